import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import avro from 'avsc';

/**
 * Avro object container files (Avro 1.11 spec, "Object Container Files"), written by hand because
 * Iceberg readers resolve manifest columns by the `field-id` attributes of the header schema and
 * avsc's `createFileEncoder` drops attributes it does not know. avsc still encodes the records.
 */

/** Avro schema JSON as Iceberg writes it: plain Avro plus `field-id` / `element-id` attributes. */
export type AvroSchemaJson = string | readonly AvroSchemaJson[] | { readonly [key: string]: unknown };

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]); // "Obj" 1

/** Avro `long` as JS bigint: 63-bit snapshot ids and sequence numbers do not fit a double. */
const BigIntLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(0),
  toBuffer: (n: bigint | number) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n), 0);
    return buf;
  },
  fromJSON: (n: unknown) => BigInt(n as number),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint' || (typeof n === 'number' && Number.isSafeInteger(n)),
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

export function avroType(schema: AvroSchemaJson): avro.Type {
  // avsc ignores unknown attributes (field-id, element-id, logicalType "map") when building the codec.
  return avro.Type.forSchema(schema as Parameters<typeof avro.Type.forSchema>[0], {
    registry: { long: BigIntLong },
    omitRecordMethods: true,
    wrapUnions: 'auto',
  });
}

const headerMetaType = avro.Type.forSchema({ type: 'map', values: 'bytes' });

function zigzagLong(n: number): Buffer {
  let v = BigInt(n);
  v = v >= 0n ? v << 1n : (-v << 1n) - 1n;
  const bytes: number[] = [];
  while (v >= 0x80n) {
    bytes.push(Number((v & 0x7fn) | 0x80n));
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Buffer.from(bytes);
}

function readZigzagLong(buf: Buffer, pos: number): { value: number; pos: number } {
  let shift = 0n;
  let acc = 0n;
  for (;;) {
    if (pos >= buf.length) throw new RangeError('avro: truncated varint');
    const b = buf[pos++]!;
    acc |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7n;
  }
  const value = (acc & 1n) === 0n ? acc >> 1n : -((acc + 1n) >> 1n);
  return { value: Number(value), pos };
}

export interface AvroWriteOptions {
  /** Extra header metadata (`avro.schema` and `avro.codec` are written by the encoder). Iceberg keeps manifest facts here. */
  readonly metadata?: Readonly<Record<string, string>>;
  /**
   * Default `null`: manifests are small, every Iceberg reader handles uncompressed blocks, and the
   * independent JS reader we test against (icebird 0.3.1) inflates Avro `deflate` blocks with a gzip
   * decoder that fails on small blocks ("unexpected EOF").
   */
  readonly codec?: 'null' | 'deflate';
  /** Seed for the 16-byte sync marker, so the same input gives the same bytes (deterministic object content). */
  readonly syncSeed?: string;
  /** Records per block. */
  readonly blockSize?: number;
}

/** Encode `records` as one Avro object container file whose header schema is exactly `schema` (field ids kept). */
export function writeAvroContainer(schema: AvroSchemaJson, records: readonly unknown[], options: AvroWriteOptions = {}): Uint8Array {
  const type = avroType(schema);
  const codec = options.codec ?? 'null';
  const meta: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(options.metadata ?? {})) meta[k] = Buffer.from(v, 'utf8');
  meta['avro.schema'] = Buffer.from(JSON.stringify(schema), 'utf8');
  meta['avro.codec'] = Buffer.from(codec, 'utf8');
  const sync = createHash('sha256')
    .update(options.syncSeed ?? `${Date.now()}-${Math.random()}`)
    .digest()
    .subarray(0, 16);
  const parts: Buffer[] = [MAGIC, headerMetaType.toBuffer(meta), sync];
  const blockSize = options.blockSize ?? 4096;
  for (let i = 0; i < records.length; i += blockSize) {
    const chunk = records.slice(i, i + blockSize);
    const encoded = Buffer.concat(chunk.map((r) => type.toBuffer(r)));
    const body = codec === 'deflate' ? deflateRawSync(encoded) : encoded;
    parts.push(zigzagLong(chunk.length), zigzagLong(body.length), body, sync);
  }
  const out = Buffer.concat(parts);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export interface AvroContainer {
  /** The writer's schema as found in the header (with its field ids). */
  readonly schema: AvroSchemaJson;
  readonly metadata: Readonly<Record<string, string>>;
  readonly records: unknown[];
}

/** Decode an Avro object container file (codecs null and deflate, the two Iceberg writers use). */
export function readAvroContainer(bytes: Uint8Array): AvroContainer {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) throw new Error('avro: not an object container file (bad magic)');
  const header = headerMetaType.decode(buf, 4);
  if (header.offset < 0) throw new Error('avro: truncated header');
  const rawMeta = header.value as Record<string, Buffer>;
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawMeta)) metadata[k] = v.toString('utf8');
  const schemaText = metadata['avro.schema'];
  if (!schemaText) throw new Error('avro: header has no avro.schema');
  const schema = JSON.parse(schemaText) as AvroSchemaJson;
  const codec = metadata['avro.codec'] ?? 'null';
  if (codec !== 'null' && codec !== 'deflate') throw new Error(`avro: unsupported codec ${codec}`);
  const type = avroType(schema);
  let pos = header.offset;
  const sync = buf.subarray(pos, pos + 16);
  pos += 16;
  const records: unknown[] = [];
  while (pos < buf.length) {
    const count = readZigzagLong(buf, pos);
    const size = readZigzagLong(buf, count.pos);
    pos = size.pos;
    const raw = buf.subarray(pos, pos + size.value);
    pos += size.value;
    if (!buf.subarray(pos, pos + 16).equals(sync)) throw new Error('avro: sync marker mismatch (corrupt block)');
    pos += 16;
    const data = codec === 'deflate' ? inflateRawSync(raw) : raw;
    let off = 0;
    for (let i = 0; i < count.value; i++) {
      const r = type.decode(data, off);
      if (r.offset < 0) throw new Error('avro: truncated record');
      records.push(r.value);
      off = r.offset;
    }
  }
  return { schema, metadata, records };
}
