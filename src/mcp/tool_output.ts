/**
 * Turns an MCP tool result into the one string a model gets back, bounded so
 * one huge answer (a long Gmail thread) cannot fill the model's context.
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

export const MAX_OUTPUT_CHARS = 8_000;

type ContentBlock = CallToolResult["content"][number];

/**
 * The text of a tool result: text items (and embedded text resources) joined
 * by newlines. Media cannot be spoken, so it is only named. With no content at
 * all, the structured result is the answer.
 */
export function toolResultText(
  result: Pick<CallToolResult, "content" | "structuredContent">,
): string {
  const parts = result.content.map(blockText);
  if (parts.length === 0 && result.structuredContent !== undefined) {
    return JSON.stringify(result.structuredContent);
  }
  return parts.join("\n");
}

function blockText(block: ContentBlock): string {
  switch (block.type) {
    case "text":
      return block.text;
    case "resource":
      return "text" in block.resource
        ? block.resource.text
        : `[binary resource ${block.resource.uri} omitted]`;
    case "resource_link":
      return `[link: ${block.uri}]`;
    case "image":
      return "[image omitted]";
    case "audio":
      return "[audio omitted]";
  }
}

/** `text` cut to `max` characters, with a note saying how much was cut. */
export function boundOutput(text: string, max = MAX_OUTPUT_CHARS): string {
  if (text.length <= max) return text;
  let end = max;
  // Do not split a surrogate pair: a lone half is invalid in the JSON output.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${
    text.slice(0, end)
  }\n[truncated: the tool returned ${text.length} characters; only the first ${end} are shown]`;
}
