/** Small helpers for untrusted JSON values. */

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Whether `value` nests objects/arrays deeper than `maxDepth` (a scalar has depth 0, `{}` depth 1).
 * Iterative, so hostile input cannot overflow the stack.
 */
export function exceedsDepth(value: unknown, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== 'object' || current === null) continue;
    if (depth + 1 > maxDepth) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Why `JSON.parse` refused a text, without the text: V8 quotes a piece of the input in some of its messages
 * (`Unexpected token 'j', "jane.doe@e"... is not valid JSON`), and these reasons reach logs and the lake's bad
 * events. Its other messages name only a position and JSON's own syntax (`Expected ',' or '}' after property value
 * in JSON at position 22`), and are kept as they are.
 */
export function jsonSyntaxError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (!message.includes('"') && !message.startsWith('Unexpected token')) return message;
  const position = /at position \d+/.exec(message)?.[0];
  return position ? `Unexpected token ${position}` : 'Unexpected token';
}

/** Byte length of a value serialized as JSON (UTF-8). */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '');
}

/**
 * Keys come from events ("constructor", "toString", "__proto__" are valid product ids, event names and traits):
 * read only own properties, never Object.prototype's, and create keys as own data properties (assigning
 * `__proto__` would replace the prototype instead).
 */
export function own<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

export function setOwn<V>(record: Record<string, V>, key: string, value: V): void {
  Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * The longest prefix of `sorted` with at most `maxCount` entries and `maxBytes` bytes. It stops at the first
 * entry that does not fit rather than skipping it: adding entries can then only move the cut earlier, so
 * trimming after every batch keeps exactly what trimming once at the end would.
 */
export function prefixWithin<T>(sorted: T[], maxCount: number, maxBytes: number, bytesOf: (entry: T) => number): T[] {
  let bytes = 0;
  let n = 0;
  while (n < sorted.length && n < maxCount) {
    bytes += bytesOf(sorted[n]);
    if (bytes > maxBytes) break;
    n += 1;
  }
  return n === sorted.length ? sorted : sorted.slice(0, n);
}

/** Code-unit order of two strings (a total order, unlike `localeCompare`). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
