/**
 * A final, masked client frame (RFC 6455 5.2) built by hand, for test and
 * soak peers that write raw bytes to a server socket.
 *
 * @module
 */

export function clientFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const length = payload.length;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = new Uint8Array(header + 4 + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) {
    frame[1] = 0x80 | length;
  } else if (length < 65536) {
    frame[1] = 0x80 | 126;
    frame[2] = length >> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 0x80 | 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(length));
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  frame.set(mask, header);
  const start = header + 4;
  for (let i = 0; i < length; i++) frame[start + i] = payload[i] ^ mask[i & 3];
  return frame;
}
