/**
 * Remote MCP policy as the API applies it: which tools a server lists
 * (`allowed_tools`) and which calls need the user's approval
 * (`require_approval`).
 *
 * @module
 */
import type { RealtimeMcpListTools } from "openai/resources/realtime/realtime";
import { asObject, isObject } from "./common.ts";
import type { McpToolSpec } from "./options.ts";
import type { McpToolConfig } from "./session_schema.ts";

function toolNames(filter: McpToolConfig["allowed_tools"]): string[] | null {
  if (filter === undefined || filter === null) return null;
  if (Array.isArray(filter)) return filter;
  return filter.tool_names ?? null;
}

function readOnly(tool: RealtimeMcpListTools.Tool): boolean {
  return asObject(tool.annotations).readOnlyHint === true;
}

/** Whether a tool name/annotation matches an MCP filter object. */
function matchesFilter(
  filter: { tool_names?: string[]; read_only?: boolean } | undefined,
  tool: RealtimeMcpListTools.Tool,
): boolean {
  if (!filter) return false;
  if (filter.tool_names && !filter.tool_names.includes(tool.name)) return false;
  if (filter.read_only !== undefined && filter.read_only !== readOnly(tool)) {
    return false;
  }
  return filter.tool_names !== undefined || filter.read_only !== undefined;
}

/** `require_approval`: "never" skips it; "always", a miss or no setting asks. */
export function needsApproval(
  config: McpToolConfig,
  tool: RealtimeMcpListTools.Tool,
): boolean {
  const rule = config.require_approval;
  if (rule === "never") return false;
  if (rule === "always" || rule === null || rule === undefined) return true;
  if (matchesFilter(rule.never, tool)) return false;
  return true;
}

/** The configured server tools, filtered by the session's `allowed_tools`. */
export function offeredTools(
  config: McpToolConfig,
  specs: McpToolSpec[],
): RealtimeMcpListTools.Tool[] {
  const all = specs.map((t) => ({
    name: t.name,
    description: t.description ?? null,
    input_schema: t.input_schema ?? { type: "object", properties: {} },
    annotations: t.annotations ?? null,
  }));
  const allowed = config.allowed_tools;
  const names = toolNames(allowed);
  const readOnlyOnly = isObject(allowed) && allowed.read_only === true;
  return all.filter((t) =>
    (names === null || names.includes(t.name)) &&
    (!readOnlyOnly || readOnly(t))
  );
}
