/**
 * A tiny driver for Debian's headless Chromium over the Chrome DevTools
 * Protocol, on Deno's own WebSocket: no npm browser library, nothing
 * downloaded. Chromium writes its DevTools port to
 * `<user-data-dir>/DevToolsActivePort` (we pass `--remote-debugging-port=0`
 * so parallel runs never clash); one browser socket then drives pages through
 * flattened target sessions.
 *
 * @module
 */

export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Why browser tests cannot run here, or undefined when they can. */
export function missingTools(
  tools: string[] = [CHROMIUM_PATH],
): string | undefined {
  const missing = tools.filter((tool) => {
    try {
      return !Deno.statSync(tool).isFile;
    } catch {
      return true;
    }
  });
  return missing.length === 0
    ? undefined
    : `missing ${
      missing.join(", ")
    } (apt-get install -y chromium espeak-ng sox)`;
}

/**
 * A folder for a test's screenshots and files: `$SCREENSHOTS_DIR/<name>`
 * (kept, to look at) when that variable is set, else a temporary folder that
 * `remove()` deletes.
 */
export async function artifactsDir(
  name: string,
): Promise<{ path: string; remove(): Promise<void> }> {
  const keep = Deno.env.get("SCREENSHOTS_DIR");
  if (keep) {
    const path = `${keep}/${name}`;
    await Deno.mkdir(path, { recursive: true });
    return { path, remove: () => Promise.resolve() };
  }
  const path = await Deno.makeTempDir({ prefix: `${name}-` });
  return { path, remove: () => Deno.remove(path, { recursive: true }) };
}

export interface LaunchOptions {
  /** A 16-bit PCM WAV that Chromium's fake microphone plays (in a loop). */
  fakeMicrophoneWav?: string;
  /** Milliseconds to wait for the DevTools endpoint (default 15000). */
  startTimeoutMs?: number;
}

export interface Viewport {
  width: number;
  height: number;
  deviceScaleFactor?: number;
  mobile?: boolean;
}

type JsonObject = Record<string, unknown>;

interface Pending {
  resolve: (result: JsonObject) => void;
  reject: (error: Error) => void;
  method: string;
}

type EventListener = (params: JsonObject, sessionId?: string) => void;

const DEFAULT_WAIT_MS = 5000;

export class Chromium {
  readonly #process: Deno.ChildProcess;
  readonly #socket: WebSocket;
  readonly #socketClosed: Promise<void>;
  readonly #userDataDir: string;
  readonly #stderr: Promise<string>;
  readonly #stderrReader: ReadableStreamDefaultReader<Uint8Array>;
  #nextId = 0;
  #pending = new Map<number, Pending>();
  #listeners = new Set<{ method: string; listener: EventListener }>();
  #closing: Promise<void> | undefined;

  private constructor(
    process: Deno.ChildProcess,
    socket: WebSocket,
    userDataDir: string,
    stderr: {
      reader: ReadableStreamDefaultReader<Uint8Array>;
      tail: Promise<string>;
    },
  ) {
    this.#process = process;
    this.#socket = socket;
    this.#userDataDir = userDataDir;
    this.#stderr = stderr.tail;
    this.#stderrReader = stderr.reader;
    this.#socketClosed = new Promise((resolve) => {
      socket.addEventListener("close", () => {
        for (const pending of this.#pending.values()) {
          pending.reject(new Error(`browser closed during ${pending.method}`));
        }
        this.#pending.clear();
        resolve();
      });
    });
    socket.addEventListener("message", (event) => this.#onMessage(event.data));
  }

  static async launch(options: LaunchOptions = {}): Promise<Chromium> {
    const userDataDir = await Deno.makeTempDir({ prefix: "chromium-test-" });
    const args = [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
      "--autoplay-policy=no-user-gesture-required",
      `--user-data-dir=${userDataDir}`,
      "--remote-debugging-port=0",
    ];
    if (options.fakeMicrophoneWav) {
      args.push(
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        `--use-file-for-fake-audio-capture=${options.fakeMicrophoneWav}`,
      );
    }
    args.push("about:blank");
    const process = new Deno.Command(CHROMIUM_PATH, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Keep the tail of Chromium's log for error messages; it is chatty (dbus…).
    const reader = process.stderr.getReader();
    const tail = (async () => {
      let text = "";
      const decoder = new TextDecoder();
      try {
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          text = (text + decoder.decode(r.value, { stream: true })).slice(
            -8000,
          );
        }
      } catch {
        // Cancelled at close.
      }
      return text;
    })();
    const stderr = { reader, tail };
    let exited = false;
    const status = process.status.then((s) => {
      exited = true;
      return s;
    });

    try {
      const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
      let endpoint: string | undefined;
      while (!endpoint) {
        if (exited) {
          throw new Error(
            `chromium exited (${(await status).code}) before DevTools was up`,
          );
        }
        if (Date.now() > deadline) throw new Error("DevTools did not come up");
        try {
          const [port, path] = (await Deno.readTextFile(
            `${userDataDir}/DevToolsActivePort`,
          )).trim().split("\n");
          if (port && path) endpoint = `ws://127.0.0.1:${port}${path}`;
        } catch {
          // Not written yet.
        }
        if (!endpoint) await delay(50);
      }
      const socket = new WebSocket(endpoint);
      await new Promise<void>((resolve, reject) => {
        socket.addEventListener("open", () => resolve(), { once: true });
        socket.addEventListener(
          "error",
          () => reject(new Error(`cannot connect to ${endpoint}`)),
          { once: true },
        );
      });
      return new Chromium(process, socket, userDataDir, stderr);
    } catch (error) {
      process.kill("SIGKILL");
      await status;
      if (await within(tail, 5000) === undefined) await reader.cancel();
      const log = await tail;
      await Deno.remove(userDataDir, { recursive: true }).catch(() => {});
      throw new Error(`${(error as Error).message}\n${log.slice(-2000)}`);
    }
  }

  /** Sends a CDP command (to a page when `sessionId` is given). */
  send(
    method: string,
    params: JsonObject = {},
    sessionId?: string,
  ): Promise<JsonObject> {
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      if (this.#socket.readyState !== WebSocket.OPEN) {
        reject(new Error(`browser is closed (${method})`));
        return;
      }
      this.#pending.set(id, { resolve, reject, method });
      this.#socket.send(JSON.stringify({ id, method, params, sessionId }));
    });
  }

  /** Calls `listener` for every `method` event until the returned function is called. */
  on(method: string, listener: EventListener): () => void {
    const entry = { method, listener };
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  /** Opens a new tab with its own viewport. */
  async newPage(
    viewport: Viewport = { width: 1280, height: 800 },
  ): Promise<Page> {
    const { targetId } = await this.send("Target.createTarget", {
      url: "about:blank",
    });
    const { sessionId } = await this.send("Target.attachToTarget", {
      targetId,
      flatten: true,
    });
    const page = new Page(this, String(targetId), String(sessionId));
    await page.init(viewport);
    return page;
  }

  /** The last lines Chromium wrote to stderr (after close()). */
  log(): Promise<string> {
    return this.#stderr;
  }

  /** Closes the browser and waits for the process, its pipe and its profile to be gone. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const exited = this.#process.status;
    if (this.#socket.readyState === WebSocket.OPEN) {
      // Browser.close lets Chromium end its helper processes itself.
      await within(this.send("Browser.close").catch(() => {}), 2000);
      this.#socket.close();
    }
    await this.#socketClosed;
    if (await within(exited, 5000) === undefined) {
      this.#process.kill("SIGKILL");
      await exited;
    }
    // The pipe closes once every helper process that inherited it is gone;
    // one that lingers must not hold the test's resources open.
    if (await within(this.#stderr, 5000) === undefined) {
      await this.#stderrReader.cancel();
    }
    await Deno.remove(this.#userDataDir, { recursive: true }).catch(() => {});
  }

  #onMessage(data: unknown): void {
    if (typeof data !== "string") return;
    const message = JSON.parse(data) as JsonObject;
    if (typeof message.id === "number") {
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      const error = message.error as { message?: string } | undefined;
      if (error) {
        pending.reject(new Error(`${pending.method}: ${error.message}`));
      } else pending.resolve((message.result ?? {}) as JsonObject);
      return;
    }
    const method = message.method;
    if (typeof method !== "string") return;
    const params = (message.params ?? {}) as JsonObject;
    const sessionId = typeof message.sessionId === "string"
      ? message.sessionId
      : undefined;
    for (const { method: wanted, listener } of [...this.#listeners]) {
      if (wanted === method) listener(params, sessionId);
    }
  }
}

/** One tab. Methods take JavaScript expressions evaluated in the page. */
export class Page {
  readonly #browser: Chromium;
  readonly #targetId: string;
  readonly #sessionId: string;
  /** Console errors and uncaught exceptions, for assertions and debugging. */
  readonly errors: string[] = [];
  #unsubscribe: (() => void)[] = [];

  constructor(browser: Chromium, targetId: string, sessionId: string) {
    this.#browser = browser;
    this.#targetId = targetId;
    this.#sessionId = sessionId;
  }

  async init(viewport: Viewport): Promise<void> {
    this.#unsubscribe.push(
      this.#browser.on("Runtime.exceptionThrown", (params, sessionId) => {
        if (sessionId !== this.#sessionId) return;
        const details = params.exceptionDetails as JsonObject;
        const exception = details.exception as JsonObject | undefined;
        this.errors.push(String(exception?.description ?? details.text));
      }),
      this.#browser.on("Runtime.consoleAPICalled", (params, sessionId) => {
        if (sessionId !== this.#sessionId || params.type !== "error") return;
        const args = params.args as JsonObject[];
        this.errors.push(args.map((a) => a.value ?? a.description).join(" "));
      }),
    );
    await this.#send("Page.enable");
    await this.#send("Runtime.enable");
    await this.#send("Emulation.setDeviceMetricsOverride", {
      width: viewport.width,
      height: viewport.height,
      deviceScaleFactor: viewport.deviceScaleFactor ?? 1,
      mobile: viewport.mobile ?? false,
    });
  }

  /** Navigates and waits for the load event. */
  async goto(url: string): Promise<void> {
    await this.navigation(async () => {
      const result = await this.#send("Page.navigate", { url });
      if (result.errorText) {
        throw new Error(`navigation to ${url}: ${result.errorText}`);
      }
    });
  }

  /** Runs `action` and waits for the next document's load event. */
  async navigation(
    action: () => Promise<unknown>,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<void> {
    let unsubscribe = () => {};
    let timer: ReturnType<typeof setTimeout> | undefined;
    const loaded = new Promise<void>((resolve, reject) => {
      unsubscribe = this.#browser.on("Page.loadEventFired", (_, sessionId) => {
        if (sessionId === this.#sessionId) resolve();
      });
      timer = setTimeout(
        () => reject(new Error(`no page load within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await action();
      await loaded;
    } finally {
      clearTimeout(timer);
      unsubscribe();
    }
  }

  /** Evaluates `expression` (awaiting a promise) and returns its JSON value. */
  async evaluate<T>(expression: string): Promise<T> {
    const result = await this.#send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    const exception = result.exceptionDetails as JsonObject | undefined;
    if (exception) {
      const error = exception.exception as JsonObject | undefined;
      throw new Error(
        `in page: ${error?.description ?? exception.text} (${expression})`,
      );
    }
    return (result.result as JsonObject).value as T;
  }

  /** Polls `expression` until it is truthy; returns its value. */
  async waitFor<T>(
    expression: string,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const value = await this.evaluate<T>(expression);
      if (value) return value;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${expression}`,
        );
      }
      await delay(50);
    }
  }

  /** The HTTP status of the current document. */
  status(): Promise<number> {
    return this.evaluate<number>(
      `performance.getEntriesByType("navigation")[0].responseStatus`,
    );
  }

  /** A real mouse click (pressed + released) in the middle of the element's first line. */
  async click(selector: string): Promise<void> {
    const box = await this.evaluate<{ x: number; y: number } | null>(`(() => {
      const element = document.querySelector(${JSON.stringify(selector)});
      if (!element) return null;
      element.scrollIntoView({ block: "center" });
      // The first line box: a link that wraps has a gap in its bounding box.
      const r = element.getClientRects()[0] ?? element.getBoundingClientRect();
      return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
    })()`);
    if (!box) throw new Error(`no element ${selector}`);
    for (const type of ["mousePressed", "mouseReleased"]) {
      await this.#send("Input.dispatchMouseEvent", {
        type,
        x: box.x,
        y: box.y,
        button: "left",
        clickCount: 1,
      });
    }
  }

  /** Focuses the element and types `text` into it, as a keyboard would. */
  async type(selector: string, text: string): Promise<void> {
    const found = await this.evaluate<boolean>(`(() => {
      const element = document.querySelector(${JSON.stringify(selector)});
      if (!element) return false;
      element.focus();
      return true;
    })()`);
    if (!found) throw new Error(`no element ${selector}`);
    await this.#send("Input.insertText", { text });
  }

  /** Saves a PNG of the viewport. */
  async screenshot(path: string): Promise<void> {
    const { data } = await this.#send("Page.captureScreenshot", {
      format: "png",
    });
    await Deno.writeFile(path, Uint8Array.fromBase64(String(data)));
  }

  async close(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    await this.#browser.send("Target.closeTarget", {
      targetId: this.#targetId,
    }).catch(() => {});
  }

  #send(method: string, params: JsonObject = {}): Promise<JsonObject> {
    return this.#browser.send(method, params, this.#sessionId);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`'s value, or undefined after `ms`; the timer never outlives it. */
async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A phone's screen, for the owner's pages. */
export const PHONE: Viewport = { width: 390, height: 844, mobile: true };

/** Fails when the page scrolls sideways or its text is small on a phone. */
export async function assertReadableOnPhone(
  page: Page,
  what: string,
): Promise<void> {
  const layout = await page.evaluate<{ scrollWidth: number; font: number }>(
    `({ scrollWidth: document.documentElement.scrollWidth,
        font: parseFloat(getComputedStyle(document.body).fontSize) })`,
  );
  if (layout.scrollWidth > PHONE.width) {
    throw new Error(
      `${what}: ${layout.scrollWidth}px wide on a ${PHONE.width}px screen`,
    );
  }
  if (layout.font < 16) throw new Error(`${what}: ${layout.font}px text`);
}
