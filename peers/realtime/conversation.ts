/**
 * The default conversation of one Realtime session: its items in order, the
 * function call ids the model issued, and the MCP approval requests it made.
 *
 * @module
 */
import type { ConversationItem } from "openai/resources/realtime/realtime";
import { newId } from "./common.ts";

export type ItemWithId = ConversationItem & { id: string };

export interface ItemRecord {
  item: ItemWithId;
  /** True for assistant audio messages: the only items a truncate accepts. */
  assistantAudio: boolean;
  /** Audio bytes of this item the client has received (or kept after a truncate). */
  audioBytes: number;
  bytesPerMs: number;
}

export interface ApprovalRequestRecord {
  id: string;
  serverLabel: string;
  name: string;
  arguments: string;
  /** The client's mcp_approval_response, once it came. */
  answer?: { approve: boolean; reason: string | null };
  /** An approved request is used by exactly one later mcp_call. */
  consumed: boolean;
}

export class Conversation {
  readonly id = newId("conv");
  readonly items = new Map<string, ItemRecord>();
  readonly approvalRequests = new Map<string, ApprovalRequestRecord>();
  lastItemId: string | null = null;
  /** call_id → id of the function_call item that carries it. */
  readonly #calls = new Map<string, string>();

  /** Appends an item; returns the id of the item before it. */
  append(
    item: ItemWithId,
    audio: { bytesPerMs: number } | null = null,
    previous: string | null = this.lastItemId,
  ): string | null {
    this.items.set(item.id, {
      item,
      assistantAudio: audio !== null,
      audioBytes: 0,
      bytesPerMs: audio?.bytesPerMs ?? 8,
    });
    this.lastItemId = item.id;
    if (item.type === "function_call" && item.call_id) {
      this.#calls.set(item.call_id, item.id);
    }
    return previous;
  }

  /** Replaces an item's content (e.g. when the model finishes it). */
  update(item: ItemWithId): void {
    const record = this.items.get(item.id);
    if (record) record.item = item;
  }

  delete(itemId: string): void {
    this.items.delete(itemId);
  }

  /**
   * Whether a function_call with this call_id is in the conversation: the API
   * checks it before accepting a function_call_output.
   */
  hasCall(callId: string): boolean {
    const itemId = this.#calls.get(callId);
    return itemId !== undefined && this.items.has(itemId);
  }

  /** A call id seen in a raw server event a test sent itself. */
  noteRawCall(callId: string, itemId: string): void {
    this.#calls.set(callId, itemId);
    if (!this.items.has(itemId)) {
      this.items.set(itemId, {
        item: {
          id: itemId,
          type: "function_call",
          call_id: callId,
          name: "",
          arguments: "",
        },
        assistantAudio: false,
        audioBytes: 0,
        bytesPerMs: 8,
      });
    }
  }
}
