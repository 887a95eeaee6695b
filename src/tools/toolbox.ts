/**
 * The function tools this server runs itself, whatever the voice engine:
 * each has a definition the model sees and a handler. Engines hand a call's
 * function calls here and send back what comes out.
 */

import { isRecord } from "../json.ts";

/** A JSON-schema property of a tool's parameters. */
export interface ToolParameter {
  type: string;
  description?: string;
}

/** A function tool as the model sees it (the Realtime session and GPT-Live's backend share this shape). */
export type FunctionTool = {
  type: "function";
  name: string;
  description: string;
  parameters: {
    type: "object";
    properties: Record<string, ToolParameter>;
    required: readonly string[];
  };
};

/** Who is asking: the call the tool runs for. */
export interface ToolCall {
  callSid: string;
}

/** What a tool gives back: its output for the model, and whether the call should end. */
export interface ToolOutcome {
  output: Record<string, unknown>;
  /** The model asked to hang up: its goodbye plays, then the call ends. */
  hangUp?: boolean;
}

export interface ServerTool {
  definition: FunctionTool;
  /** Runs with the model's parsed arguments; may be async (KV, REST). */
  run(
    args: Record<string, unknown>,
    call: ToolCall,
  ): ToolOutcome | Promise<ToolOutcome>;
}

export class ToolBox {
  readonly #tools: Map<string, ServerTool>;

  constructor(tools: ServerTool[]) {
    this.#tools = new Map(tools.map((tool) => [tool.definition.name, tool]));
  }

  /** The definitions to offer the model. */
  get definitions(): FunctionTool[] {
    return [...this.#tools.values()].map((tool) => tool.definition);
  }

  has(name: string): boolean {
    return this.#tools.has(name);
  }

  /**
   * Runs a function call. An unknown tool, arguments that are not a JSON
   * object, or a handler that throws come back as an error output, never as
   * an exception: the model is told, and the call goes on.
   */
  run(
    name: string,
    argumentsJson: string,
    call: ToolCall,
  ): ToolOutcome | Promise<ToolOutcome> {
    const tool = this.#tools.get(name);
    if (!tool) return failure(`unknown tool ${name}`);
    let args: unknown;
    try {
      args = argumentsJson.trim() ? JSON.parse(argumentsJson) : {};
    } catch {
      return failure("arguments are not valid JSON");
    }
    if (!isRecord(args)) return failure("arguments must be a JSON object");
    try {
      const outcome = tool.run(args, call);
      return outcome instanceof Promise
        ? outcome.catch((error) => failure(messageOf(error)))
        : outcome;
    } catch (error) {
      return failure(messageOf(error));
    }
  }
}

function failure(error: string): ToolOutcome {
  return { output: { ok: false, error } };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
