import { isInteger, isSafeNumber, parse, stringify } from 'lossless-json';

/** Integers beyond 2^53 → bigint; every other number → number (lossless-json's own helper makes every integer a bigint). */
function parseNumber(text: string): number | bigint {
  return isInteger(text) && !isSafeNumber(text) ? BigInt(text) : Number(text);
}

/** Lossless JSON: 63-bit snapshot ids parse to bigint (JSON.parse would round them to a different id). */
export function parseJson(text: string): unknown {
  return parse(text, null, parseNumber);
}

export function stringifyJson(value: unknown): string {
  const out = stringify(value);
  if (out === undefined) throw new TypeError('value is not JSON-serialisable');
  return out;
}

/** Compare two JSON integers that may be number (small) or bigint (large). */
export function idEq(a: unknown, b: unknown): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  if ((typeof a !== 'number' && typeof a !== 'bigint') || (typeof b !== 'number' && typeof b !== 'bigint')) return false;
  return BigInt(a) === BigInt(b);
}

export function toBig(a: unknown): bigint {
  if (typeof a === 'bigint') return a;
  if (typeof a === 'number' && Number.isInteger(a)) return BigInt(a);
  throw new TypeError(`expected an integer, got ${String(a)}`);
}
