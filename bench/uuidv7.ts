import { randomBytes } from 'node:crypto';

let last = 0;
let counter = 0;
/** RFC 9562 UUIDv7: 48-bit Unix milliseconds, then random bits (a 12-bit counter keeps one millisecond ordered). */
export function uuidv7(): string {
  const now = Date.now();
  counter = now === last ? counter + 1 : 0;
  last = now;
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = 0x70 | ((counter >> 8) & 0x0f);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
