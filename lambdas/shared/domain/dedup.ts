import { createHash } from 'node:crypto';

/**
 * The `messageId`s a profile has already applied, kept inside the profile item so that applying events and
 * remembering them commit in one conditional write (no window where one happened without the other).
 *
 * Compact: each entry is an 8-byte hash of the id plus the 4-byte epoch second it was first applied,
 * so 2,000 remembered ids cost 24 KB. A 64-bit hash makes a false "already seen" among a profile's
 * remembered ids vanishingly unlikely (about n²/2⁶⁵: 10⁻¹³ for 2,000 ids).
 */
export type SeenIds = Map<string, number>;

const HASH_BYTES = 8;
const ENTRY_BYTES = HASH_BYTES + 4;

export function seenKey(messageId: string): string {
  return createHash('sha256').update(messageId).digest('hex').slice(0, HASH_BYTES * 2);
}

export function decodeSeen(bytes: Uint8Array | undefined): SeenIds {
  const seen: SeenIds = new Map();
  if (!bytes) return seen;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let offset = 0; offset + ENTRY_BYTES <= buf.length; offset += ENTRY_BYTES) {
    seen.set(buf.toString('hex', offset, offset + HASH_BYTES), buf.readUInt32BE(offset + HASH_BYTES));
  }
  return seen;
}

export function encodeSeen(seen: SeenIds): Uint8Array {
  const buf = Buffer.alloc(seen.size * ENTRY_BYTES);
  let offset = 0;
  for (const [key, seenAt] of seen) {
    buf.write(key, offset, HASH_BYTES, 'hex');
    buf.writeUInt32BE(seenAt, offset + HASH_BYTES);
    offset += ENTRY_BYTES;
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Forgets ids older than the window, then keeps at most `maxIds`, newest first. */
export function pruneSeen(seen: SeenIds, nowSeconds: number, windowSeconds: number, maxIds: number): SeenIds {
  const fresh = [...seen].filter(([, at]) => at > nowSeconds - windowSeconds);
  if (fresh.length > maxIds) fresh.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).length = maxIds;
  return new Map(fresh);
}
