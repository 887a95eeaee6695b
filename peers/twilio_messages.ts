/**
 * The Media Streams `start` message as Twilio sends it for a bidirectional
 * `<Connect><Stream>` (µ-law 8 kHz mono, inbound track), for every simulated
 * edge: tests, the soak and the bench.
 *
 * @module
 */

export interface StartFields {
  sequenceNumber: string;
  streamSid: string;
  accountSid: string;
  callSid: string;
  customParameters: Record<string, string>;
}

export function startMessage(fields: StartFields) {
  return {
    event: "start",
    sequenceNumber: fields.sequenceNumber,
    streamSid: fields.streamSid,
    start: {
      streamSid: fields.streamSid,
      accountSid: fields.accountSid,
      callSid: fields.callSid,
      tracks: ["inbound"],
      customParameters: fields.customParameters,
      mediaFormat: {
        encoding: "audio/x-mulaw",
        sampleRate: 8000,
        channels: 1,
      },
    },
  };
}
