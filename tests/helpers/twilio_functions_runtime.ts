// A small stand-in for Twilio's Functions (Node) runtime. It loads a Function
// file as a CommonJS module in a fresh V8 context holding only what the
// runtime provides and a Function may use, calls `handler(context, event,
// callback)` the way Twilio does, and turns the answer into the TwiML text
// Twilio would receive. `require` throws, so a Function that needs any
// dependency fails here.
import vm from "node:vm";
import { format } from "node:util";
import twilio from "twilio";

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: (XmlElement | string)[];
}

export interface LogLine {
  level: "log" | "info" | "warn" | "error";
  text: string;
}

export interface Invocation {
  /** The TwiML exactly as the runtime would send it to Twilio. */
  twiml: string;
  /** The parsed root element of `twiml`. */
  response: XmlElement;
  logs: LogLine[];
}

type Callback = (error: unknown, response?: unknown) => void;
type Handler = (
  context: Record<string, unknown>,
  event: Record<string, unknown>,
  callback: Callback,
) => unknown;

// Twilio ends a Function that has not answered within 10 s.
const EXECUTION_LIMIT_MS = 10_000;

export async function runFunction(
  path: URL,
  env: Record<string, string | undefined>,
  event: Record<string, unknown>,
): Promise<Invocation> {
  return runFunctionSource(
    await Deno.readTextFile(path),
    path.pathname,
    env,
    event,
  );
}

export async function runFunctionSource(
  source: string,
  filename: string,
  env: Record<string, string | undefined>,
  event: Record<string, unknown>,
): Promise<Invocation> {
  const logs: LogLine[] = [];
  const handler = load(source, filename, logs);
  // The runtime adds these to the environment variables on `context`, and the
  // request's headers and cookies to the webhook parameters on `event`.
  const context = {
    DOMAIN_NAME: "example-1234.twil.io",
    PATH: "/incoming-call",
    ...env,
  };
  const answer = await invoke(handler, context, {
    request: { headers: {}, cookies: {} },
    ...event,
  });
  if (!(answer instanceof twilio.twiml.VoiceResponse)) {
    throw new Error("handler must answer with a Twilio.twiml.VoiceResponse");
  }
  const twiml = answer.toString();
  return { twiml, response: parseXml(twiml), logs };
}

function load(source: string, filename: string, logs: LogLine[]): Handler {
  const capture = (level: LogLine["level"]) => (...args: unknown[]) => {
    logs.push({ level, text: format(...args) });
  };
  const sandbox = vm.createContext({
    Twilio: { twiml: twilio.twiml },
    console: {
      log: capture("log"),
      info: capture("info"),
      warn: capture("warn"),
      error: capture("error"),
    },
    // A Node global, so present in the runtime; the allowlist parses WEBHOOK_URL with it.
    URL,
  });
  // Node's CommonJS wrapper, kept on the first line so line numbers match.
  const wrapper = vm.runInContext(
    `(function (exports, require, module, __filename, __dirname) {${source}\n})`,
    sandbox,
    { filename },
  );
  const module = { exports: {} as { handler?: unknown } };
  const require = (id: string) => {
    throw new Error(
      `require("${id}"): the Function must not depend on any module`,
    );
  };
  wrapper(
    module.exports,
    require,
    module,
    filename,
    filename.replace(/\/[^/]*$/, ""),
  );
  if (typeof module.exports.handler !== "function") {
    throw new Error("the Function must export a handler");
  }
  return module.exports.handler as Handler;
}

// Resolves with the callback's response; fails on an error, a throw, a
// timeout, or a callback called more than once.
async function invoke(
  handler: Handler,
  context: Record<string, unknown>,
  event: Record<string, unknown>,
): Promise<unknown> {
  let calls = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const answered = new Promise((resolve, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(`callback not called within ${EXECUTION_LIMIT_MS} ms`),
        ),
      EXECUTION_LIMIT_MS,
    );
    const callback: Callback = (error, response) => {
      if (++calls > 1) return;
      if (error) reject(error);
      else resolve(response);
    };
    Promise.resolve().then(() => handler(context, event, callback)).catch(
      reject,
    );
  });
  try {
    const response = await answered;
    // Give a stray second callback the chance to show up before judging.
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (calls !== 1) {
      throw new Error(
        `callback called ${calls} times; the runtime expects exactly once`,
      );
    }
    return response;
  } finally {
    clearTimeout(timer);
  }
}

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

function unescapeXml(text: string): string {
  if (/&(?!(?:#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);)/i.test(text)) {
    throw new Error(`unescaped "&" in XML text: ${text}`);
  }
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (_, entity: string) => {
    if (!entity.startsWith("#")) return ENTITIES[entity];
    return String.fromCodePoint(
      /^#x/i.test(entity)
        ? parseInt(entity.slice(2), 16)
        : parseInt(entity.slice(1), 10),
    );
  });
}

/**
 * A strict parser for the XML subset TwiML uses (declaration, elements,
 * attributes, text, entities); throws on anything malformed. Returns the root.
 */
export function parseXml(xml: string): XmlElement {
  const body = xml.replace(/^<\?xml[^?]*\?>/, "");
  const token =
    /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|([^<]+)/y;
  const documentNode: XmlElement = {
    name: "#document",
    attributes: {},
    children: [],
  };
  const open = [documentNode];
  while (token.lastIndex < body.length) {
    const at = token.lastIndex;
    const match = token.exec(body);
    if (!match) {
      throw new Error(
        `malformed XML at offset ${at}: ${body.slice(at, at + 40)}`,
      );
    }
    const [, closing, name, attributes, selfClosing, text] = match;
    const parent = open[open.length - 1];
    if (text !== undefined) {
      parent.children.push(unescapeXml(text));
    } else if (closing) {
      if (parent.name !== name || attributes || selfClosing) {
        throw new Error(`unexpected </${name}> at offset ${at}`);
      }
      open.pop();
    } else {
      const element: XmlElement = {
        name,
        attributes: parseAttributes(attributes),
        children: [],
      };
      parent.children.push(element);
      if (!selfClosing) open.push(element);
    }
  }
  if (open.length !== 1) {
    throw new Error(`unclosed <${open[open.length - 1].name}>`);
  }
  const [root, ...rest] = documentNode.children;
  if (typeof root === "string" || root === undefined || rest.length > 0) {
    throw new Error("XML must hold exactly one root element");
  }
  return root;
}

function parseAttributes(source: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (
    const [, name, doubleQuoted, singleQuoted] of source.matchAll(
      /([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g,
    )
  ) {
    if (name in attributes) throw new Error(`duplicate attribute ${name}`);
    attributes[name] = unescapeXml(doubleQuoted ?? singleQuoted);
  }
  return attributes;
}
