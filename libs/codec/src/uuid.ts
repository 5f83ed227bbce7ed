import { createHash, randomBytes } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether `value` is a UUID in its one spelling here: lowercase, hyphenated 8-4-4-4-12. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

let lastMillis = 0;
let sequence = 0;

/**
 * RFC 9562 UUIDv7: 48 bits of Unix milliseconds, a 12-bit counter (method 1 of §6.2, so ids made in one process are
 * strictly increasing even within a millisecond), then 62 random bits. Time-ordered ids keep B-tree inserts at the
 * right edge of the index, and listing by id matches creation order.
 */
export function uuidv7(): string {
  let millis = Date.now();
  if (millis > lastMillis) {
    lastMillis = millis;
    sequence = 0;
  } else {
    // Same millisecond (or the clock stepped back): count on; on overflow borrow the next millisecond.
    millis = lastMillis;
    sequence += 1;
    if (sequence > 0xfff) {
      millis = lastMillis += 1;
      sequence = 0;
    }
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(millis, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  return format(bytes);
}

/** RFC 9562 UUIDv5: SHA-1 of the namespace's 16 bytes followed by `name`, with the version and variant set. */
export function uuidv5(namespace: string, name: Uint8Array | string): string {
  if (!isUuid(namespace)) throw new TypeError(`namespace must be a lowercase UUID, got ${namespace}`);
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replaceAll('-', ''), 'hex'))
    .update(name)
    .digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = 0x50 | ((bytes[6] ?? 0) & 0x0f);
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  return format(bytes);
}

function format(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
