/**
 * DAILY_BUDGET_USD: once the day's spend (in ASSISTANT_TIMEZONE) reaches
 * it, new calls are refused before any voice session opens, and a live call
 * that takes the day over it is ended with a short goodbye.
 */

import type { CallObserver } from "../call_vocabulary.ts";
import type { Logger } from "../log.ts";
import type { PriceTable } from "./prices.ts";
import { priceUsage } from "./pricing.ts";
import type { SpendLedger } from "./spend.ts";
import { addUsage, type UsageTotals } from "./usage.ts";

/** What a caller hears when the day's budget is spent (the webhook's refusal). */
export const BUDGET_MESSAGE =
  "Sorry, your assistant has used up today's budget. Please try again tomorrow.";
/** What the assistant is asked to say when a live call reaches the budget. */
export const BUDGET_GOODBYE =
  "Today's spending limit has just been reached. Tell the caller so in one short sentence and say goodbye.";

/** A live call, as the budget sees it. */
export interface WatchedCall {
  callSid: string;
  startedAt: number;
  /** Ends the call after a goodbye (the bridge's hangUp). */
  hangUp(reason: "daily budget reached", goodbye: string): void;
}

export class Budget {
  readonly #ledger: SpendLedger;
  readonly #limitMicroUsd: number;
  readonly #prices: PriceTable;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #checks = new Set<Promise<void>>();

  constructor(options: {
    ledger: SpendLedger;
    limitMicroUsd: number;
    prices: PriceTable;
    logger: Logger;
    now?: () => number;
  }) {
    this.#ledger = options.ledger;
    this.#limitMicroUsd = options.limitMicroUsd;
    this.#prices = options.prices;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /**
   * True once today's spend has reached the budget: a new call must not
   * start. A ledger that cannot be read lets the call through (logged): the
   * budget guards spending, it must not take the assistant down.
   */
  async reached(): Promise<boolean> {
    try {
      return await this.#ledger.day(this.#now()) >= this.#limitMicroUsd;
    } catch (error) {
      this.#logger.log("warn", "budget.check_failed", {
        error: error instanceof Error ? error.message : String(error),
      });
      return false;
    }
  }

  /**
   * An observer for one live call: after each usage report, the day's spend
   * by the other calls (from the ledger) plus this call's own cost (counted
   * here, so a journal write still in flight cannot hide it) is held to the
   * budget; at it, the call is hung up once.
   */
  watch(call: WatchedCall): CallObserver {
    let usage: UsageTotals = {};
    let checking = false;
    let again = false;
    let over = false;
    const check = async () => {
      checking = true;
      try {
        do {
          again = false;
          const own = priceUsage(usage, this.#prices).microUsd;
          const others = await this.#ledger.day(call.startedAt, call.callSid);
          if (!over && others + own >= this.#limitMicroUsd) {
            over = true;
            this.#logger.log("warn", "budget.reached", {
              callSid: call.callSid,
              spentMicroUsd: others + own,
              budgetMicroUsd: this.#limitMicroUsd,
            });
            call.hangUp("daily budget reached", BUDGET_GOODBYE);
          }
        } while (again && !over);
      } catch (error) {
        this.#logger.log("warn", "budget.check_failed", {
          callSid: call.callSid,
          error: error instanceof Error ? error.message : String(error),
        });
      } finally {
        checking = false;
      }
    };
    return {
      usage: (report) => {
        usage = addUsage(usage, report);
        if (over) return;
        // One check at a time; reports that come meanwhile are taken by one more round.
        if (checking) {
          again = true;
          return;
        }
        const running = check();
        this.#checks.add(running);
        running.finally(() => this.#checks.delete(running));
      },
    };
  }

  /** Resolves once no check is in flight (before KV closes). */
  async settled(): Promise<void> {
    while (this.#checks.size > 0) await Promise.all([...this.#checks]);
  }
}
