import assert from "node:assert/strict";
// An independent XML parser, to check what Twilio would read. Inline because
// this file may not touch deno.json; map "fast-xml-parser" there to drop this.
import { XMLParser, XMLValidator } from "fast-xml-parser";
import {
  connectStreamTwiml,
  escapeXml,
  sayAndHangUpTwiml,
  twimlResponse,
} from "../src/twilio/twiml.ts";

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  trimValues: false,
  parseAttributeValue: false,
  parseTagValue: false,
  isArray: (name) => name === "Parameter",
});

interface ParsedParameter {
  "@_name": string;
  "@_value": string;
}

interface ParsedStreamDoc {
  Response: {
    Connect: {
      Stream: { "@_url": string; Parameter?: ParsedParameter[] };
    };
  };
}

/** Every `&` starts one of the five predefined entities (fast-xml-parser's validator lets a bare `&` through). */
function assertNoBareAmpersand(xml: string): void {
  assert.doesNotMatch(xml, /&(?!(?:amp|lt|gt|quot|apos);)/);
}

const NASTY = `a&b<c>d"e'f &amp; &lt;`;

Deno.test("escapeXml() escapes the five XML special characters", () => {
  assert.equal(escapeXml(`&<>"'`), "&amp;&lt;&gt;&quot;&apos;");
  assert.equal(escapeXml("plain é 😀"), "plain é 😀");
  assert.equal(escapeXml("&amp;"), "&amp;amp;");
  assert.equal(escapeXml(""), "");
});

Deno.test("connectStreamTwiml() has the Response/Connect/Stream/Parameter structure", () => {
  const xml = connectStreamTwiml("wss://assistant.example.com/media/tok", {
    token: "abc",
    from: "+14158675309",
  });
  assert.equal(
    xml,
    '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>' +
      '<Stream url="wss://assistant.example.com/media/tok">' +
      '<Parameter name="token" value="abc"/>' +
      '<Parameter name="from" value="+14158675309"/>' +
      "</Stream></Connect></Response>",
  );
});

Deno.test("connectStreamTwiml() without parameters has an empty Stream", () => {
  const xml = connectStreamTwiml("wss://a.example/m");
  assert.match(
    xml,
    /<Response><Connect><Stream url="wss:\/\/a\.example\/m"><\/Stream><\/Connect><\/Response>$/,
  );
  assert.doesNotMatch(xml, /Parameter/);
});

Deno.test("connectStreamTwiml() escapes & < > \" ' in the stream URL", () => {
  const xml = connectStreamTwiml(`wss://a.example/m?x=1&y="2"<'>`);
  assert.ok(
    xml.includes(
      'url="wss://a.example/m?x=1&amp;y=&quot;2&quot;&lt;&apos;&gt;"',
    ),
    xml,
  );
  assertNoBareAmpersand(xml);
  assert.equal(XMLValidator.validate(xml), true);
});

Deno.test("connectStreamTwiml() escapes & < > \" ' in Parameter names and values", () => {
  const xml = connectStreamTwiml("wss://a.example/m", { [`n"&`]: NASTY });
  assert.ok(
    xml.includes(
      '<Parameter name="n&quot;&amp;" value="a&amp;b&lt;c&gt;d&quot;e&apos;f &amp;amp; &amp;lt;"/>',
    ),
    xml,
  );
  assertNoBareAmpersand(xml);
  assert.equal(XMLValidator.validate(xml), true);
});

Deno.test("connectStreamTwiml() attribute values round-trip exactly through an XML parser", () => {
  const url = `wss://a.example/media/x?k=${NASTY}`;
  const parameters: Record<string, string> = {
    token: "eyJ.abc-_",
    nasty: NASTY,
    unicode: "Zoë 漢字 😀👍🏽",
    spaces: "  leading and trailing  ",
    empty: "",
    [`we'ird<name>`]: "v",
  };
  const xml = connectStreamTwiml(url, parameters);
  assert.equal(XMLValidator.validate(xml), true);
  const doc = parser.parse(xml) as ParsedStreamDoc;
  const stream = doc.Response.Connect.Stream;
  assert.equal(stream["@_url"], url);
  const parsed = (stream.Parameter ?? []).map((
    p,
  ): [string, string] => [p["@_name"], p["@_value"]]);
  assert.deepEqual(parsed, Object.entries(parameters));
});

Deno.test("sayAndHangUpTwiml() says the escaped message then hangs up", () => {
  const xml = sayAndHangUpTwiml(`Sorry & goodbye <3 "friend" it's late`);
  assert.equal(
    xml,
    '<?xml version="1.0" encoding="UTF-8"?><Response>' +
      "<Say>Sorry &amp; goodbye &lt;3 &quot;friend&quot; it&apos;s late</Say>" +
      "<Hangup/></Response>",
  );
  assert.equal(XMLValidator.validate(xml), true);
  const doc = parser.parse(xml) as {
    Response: { Say: string; Hangup: string };
  };
  assert.equal(doc.Response.Say, `Sorry & goodbye <3 "friend" it's late`);
  assert.ok("Hangup" in doc.Response);
});

Deno.test("twimlResponse() serves the body as text/xml with status 200 by default", async () => {
  const body = sayAndHangUpTwiml("bye");
  const response = twimlResponse(body);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/xml\b/);
  assert.equal(await response.text(), body);
});

Deno.test("twimlResponse() keeps a given status", async () => {
  const response = twimlResponse(sayAndHangUpTwiml("no"), 403);
  assert.equal(response.status, 403);
  assert.match(response.headers.get("content-type") ?? "", /^text\/xml\b/);
  await response.body?.cancel();
});
