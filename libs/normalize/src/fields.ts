import type { DecodeErrorReason } from '@cryptoflow/ingest';

/**
 * Reads venue fields with cheap type checks. The first problem is remembered (reason + field) and the
 * mapper checks `failed` once after building a row: no try/catch and no allocation per field.
 */
export class FieldReader {
  reason: DecodeErrorReason | null = null;
  field = '';

  reset(): void {
    this.reason = null;
    this.field = '';
  }

  get failed(): boolean {
    return this.reason !== null;
  }

  /** A decimal string ("0.35130000") or number → finite double. */
  decimal(obj: Readonly<Record<string, unknown>>, key: string): number {
    const v = obj[key];
    if (typeof v === 'string') {
      const n = Number(v);
      if (v.length > 0 && Number.isFinite(n)) return n;
      return this.fail('mistyped_field', key);
    }
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    return this.fail(v === undefined ? 'missing_field' : 'mistyped_field', key);
  }

  /** Like decimal, but absent, null or "" map to null (the venue's "none", e.g. `r` of delivery contracts). */
  optionalDecimal(obj: Readonly<Record<string, unknown>>, key: string): number | null {
    const v = obj[key];
    if (v === undefined || v === null || v === '') return null;
    return this.decimal(obj, key);
  }

  /** An integer id or epoch-ms; anything above 2^53 is refused rather than rounded. */
  int(obj: Readonly<Record<string, unknown>>, key: string): number {
    const v = obj[key];
    if (typeof v === 'number') {
      if (Number.isSafeInteger(v)) return v;
      return this.fail(Number.isInteger(v) ? 'unsafe_integer' : 'mistyped_field', key);
    }
    return this.fail(v === undefined ? 'missing_field' : 'mistyped_field', key);
  }

  /** Epoch milliseconds → µs; refuses values whose µs would pass 2^53. */
  micros(obj: Readonly<Record<string, unknown>>, key: string): number {
    const ms = this.int(obj, key);
    const us = ms * 1000;
    if (Number.isSafeInteger(us) || Number.isNaN(ms)) return us;
    return this.fail('unsafe_integer', key);
  }

  str(obj: Readonly<Record<string, unknown>>, key: string): string {
    const v = obj[key];
    if (typeof v === 'string') return v;
    this.fail(v === undefined ? 'missing_field' : 'mistyped_field', key);
    return '';
  }

  bool(obj: Readonly<Record<string, unknown>>, key: string): boolean {
    const v = obj[key];
    if (typeof v === 'boolean') return v;
    this.fail(v === undefined ? 'missing_field' : 'mistyped_field', key);
    return false;
  }

  private fail(reason: DecodeErrorReason, key: string): number {
    if (this.reason === null) {
      this.reason = reason;
      this.field = key;
    }
    return Number.NaN;
  }
}
