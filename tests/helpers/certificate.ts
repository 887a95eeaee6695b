/**
 * A throwaway self-signed certificate for localhost, made with openssl, for
 * tests that need a real TLS peer (trusted by the client via caCerts or
 * DENO_CERT).
 */
import assert from "node:assert/strict";

/** Whether openssl is on PATH: the TLS tests are skipped without it. */
export const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
}).output().then((o) => o.success, () => false);

/** Writes cert.pem and key.pem into `dir`; returns their paths and text. */
export async function localhostCertificate(dir: string) {
  const made = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  assert.ok(made.success, "openssl could not make a certificate");
  return {
    certFile: `${dir}/cert.pem`,
    cert: await Deno.readTextFile(`${dir}/cert.pem`),
    key: await Deno.readTextFile(`${dir}/key.pem`),
  };
}
