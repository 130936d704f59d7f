import { isInteger, isSafeNumber, parse, stringify } from 'lossless-json';

/** Integers beyond 2^53 → bigint; every other number → number (lossless-json's own helper makes every integer a bigint). */
function parseNumber(text: string): number | bigint {
  return isInteger(text) && !isSafeNumber(text) ? BigInt(text) : Number(text);
}

/**
 * Catalog JSON carries 63-bit snapshot ids; `JSON.parse` rounds them to the nearest double and a
 * rounded id names a different (or no) snapshot. Integers beyond 2^53 parse to `bigint`, everything
 * else to `number`; stringify writes `bigint` back as a bare JSON number.
 */
export function parseJson(text: string): unknown {
  return parse(text, null, parseNumber);
}

export function stringifyJson(value: unknown): string {
  const out = stringify(value);
  if (out === undefined) throw new TypeError('value is not JSON-serialisable');
  return out;
}

/** A 64-bit id as read from lossless JSON (number when small, bigint when large) → bigint. */
export function toBigIntId(value: unknown, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  throw new TypeError(`${what}: expected an integer id, got ${typeof value} ${String(value)}`);
}

/** Equality of two ids that may be number or bigint. */
export function sameId(a: unknown, b: unknown): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return a == b;
  try {
    return toBigIntId(a, 'id') === toBigIntId(b, 'id');
  } catch {
    return false;
  }
}
