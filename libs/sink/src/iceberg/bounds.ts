/**
 * Iceberg single-value binary serialization (table spec, Appendix D), used for `lower_bounds` /
 * `upper_bounds` in manifests and for partition summaries in manifest lists.
 */
import type { ColumnType } from '@cryptoflow/model';

export type BoundValue = number | bigint | string | boolean;

export function encodeBound(type: ColumnType | 'int', value: BoundValue): Uint8Array {
  switch (type) {
    case 'boolean':
      return Uint8Array.of(value ? 1 : 0);
    case 'int': {
      const b = Buffer.alloc(4);
      b.writeInt32LE(Number(value), 0);
      return new Uint8Array(b);
    }
    case 'long':
    case 'timestamptz': {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt(value), 0);
      return new Uint8Array(b);
    }
    case 'double': {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(Number(value), 0);
      return new Uint8Array(b);
    }
    case 'string':
      return new Uint8Array(Buffer.from(String(value), 'utf8'));
  }
}

export function decodeBound(type: ColumnType | 'int', bytes: Uint8Array): BoundValue {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case 'boolean':
      return b[0] !== 0;
    case 'int':
      return b.readInt32LE(0);
    case 'long':
    case 'timestamptz':
      return b.readBigInt64LE(0);
    case 'double':
      return b.readDoubleLE(0);
    case 'string':
      return b.toString('utf8');
  }
}

const MICROS_PER_HOUR = 3_600_000_000;

/** Iceberg `hour` transform of a timestamptz in µs: whole hours since the epoch (floor, also for negatives). */
export function hourTransform(micros: number | bigint): number {
  return Number(typeof micros === 'bigint' ? floorDivBig(micros, BigInt(MICROS_PER_HOUR)) : Math.floor(micros / MICROS_PER_HOUR));
}

function floorDivBig(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}
