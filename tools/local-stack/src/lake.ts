import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { FileLedger } from '@cryptoflow/idempotency';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import { TABLES, TABLE_SCHEMAS } from '@cryptoflow/model';
import type { ColumnType, TableName } from '@cryptoflow/model';
import {
  IcebergRestClient,
  currentSnapshot,
  readManifest,
  readManifestList,
  s3ObjectStore,
} from '@cryptoflow/sink';
import { startIcebergCatalog } from '@cryptoflow/iceberg-catalog';
import type { RunningCatalog } from '@cryptoflow/iceberg-catalog';
import { LOCAL_CREDENTIALS, LOCAL_REGION, createBucket, startDynamo, startS3 } from '@cryptoflow/stand-ins';
import type { LocalDynamo, LocalS3 } from '@cryptoflow/stand-ins';

export interface LocalLakeOptions {
  /** Where s3rver keeps objects (default: a fresh temp dir). */
  readonly dir?: string;
  /** Default `cryptoflow-lake`. */
  readonly bucket?: string;
  /** Default `cryptoflow`. */
  readonly namespace?: string;
  /** Default `cryptoflow-ledger`. */
  readonly ledgerTable?: string;
  /** Tables created at start (default: every libs/model table). */
  readonly tables?: readonly TableName[];
}

/** The `sink` section of a collector or committer config that points at the local lake. */
export interface LakeSinkFragment {
  readonly kind: 's3';
  readonly s3: { bucket: string; endpoint: string; force_path_style: true; region: string };
  readonly ledger: { table: string; endpoint: string; region: string };
  readonly catalog: { uri: string; warehouse: string; namespace: string; signer: 'none' };
}

export interface LocalLake {
  readonly s3: LocalS3;
  readonly dynamo: LocalDynamo;
  readonly catalog: RunningCatalog;
  readonly bucket: string;
  readonly namespace: string;
  readonly ledgerTable: string;
  /** `sink` config pointing a collector or the committer at this lake (by endpoint only). */
  readonly sink: LakeSinkFragment;
  /** The same as config flags (`--sink.s3.endpoint=…`), for child processes. */
  readonly flags: readonly string[];
  /** Env the AWS SDK needs to talk to the stand-ins (they accept any credentials). */
  readonly env: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

const WAREHOUSE = 'arn:aws:s3tables:us-east-1:000000000000:bucket/cryptoflow-local';

/**
 * The AWS side on 127.0.0.1: S3 (s3rver), DynamoDB (dynalite), and the local Iceberg REST catalog
 * storing its metadata in that S3 — the same protocols S3, DynamoDB and S3 Tables speak. Creates the
 * bucket, the ledger table, the namespace and every model table (as Terraform does in AWS).
 */
export async function startLocalLake(options: LocalLakeOptions = {}): Promise<LocalLake> {
  const bucket = options.bucket ?? 'cryptoflow-lake';
  const namespace = options.namespace ?? 'cryptoflow';
  const ledgerTable = options.ledgerTable ?? 'cryptoflow-ledger';
  const s3 = await startS3(options.dir ? { dir: options.dir } : {});
  const started: { close(): Promise<void> }[] = [s3];
  try {
    await createBucket(s3.endpoint, bucket);
    const dynamo = await startDynamo();
    started.push(dynamo);
    const catalog = await startIcebergCatalog({
      s3: { endpoint: s3.endpoint, bucket, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS },
      warehouse: WAREHOUSE,
    });
    started.push(catalog);

    const logger = createLogger({ app: 'local-lake', level: 'warn' });
    const dynamoClient = new DynamoDBClient({ endpoint: dynamo.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    await new FileLedger({ client: dynamoClient, tableName: ledgerTable, registry: new Registry(), logger }).ensureTable();
    dynamoClient.destroy();
    const s3Client = lakeS3Client(s3.endpoint);
    const client = new IcebergRestClient({ uri: catalog.uri, warehouse: WAREHOUSE, signer: 'none', objects: s3ObjectStore(s3Client) });
    await client.ensureNamespace(namespace);
    for (const t of options.tables ?? TABLES) await client.ensureModelTable(namespace, t);
    s3Client.destroy();

    const sink: LakeSinkFragment = {
      kind: 's3',
      s3: { bucket, endpoint: s3.endpoint, force_path_style: true, region: LOCAL_REGION },
      ledger: { table: ledgerTable, endpoint: dynamo.endpoint, region: LOCAL_REGION },
      catalog: { uri: catalog.uri, warehouse: WAREHOUSE, namespace, signer: 'none' },
    };
    return {
      s3,
      dynamo,
      catalog,
      bucket,
      namespace,
      ledgerTable,
      sink,
      flags: sinkFlags(sink),
      env: {
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        AWS_REGION: LOCAL_REGION,
      },
      close: async () => {
        await catalog.close();
        await dynamo.close();
        await s3.close();
      },
    };
  } catch (err) {
    for (const s of started.reverse()) await s.close().catch(() => undefined);
    throw err;
  }
}

/** A sink fragment as `--sink.…=value` flags (later flags override a config file's values). */
export function sinkFlags(sink: LakeSinkFragment): string[] {
  const out: string[] = [`--sink.kind=${sink.kind}`];
  for (const section of ['s3', 'ledger', 'catalog'] as const)
    for (const [k, v] of Object.entries(sink[section])) out.push(`--sink.${section}.${k}=${String(v)}`);
  return out;
}

function lakeS3Client(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
}

/** How to reach a lake's catalog and S3 (a LocalLake has all of it). */
export interface LakeLocation {
  readonly catalogUri: string;
  readonly warehouse: string;
  readonly s3Endpoint: string;
  readonly namespace: string;
}

export function lakeLocation(lake: LocalLake): LakeLocation {
  return { catalogUri: lake.catalog.uri, warehouse: lake.catalog.warehouse, s3Endpoint: lake.s3.endpoint, namespace: lake.namespace };
}

/**
 * Downloads the data files of a table's current Iceberg snapshot (walking its manifest list and
 * manifests, as Athena does) into `destDir`; returns their local paths for DuckDB.
 */
export async function downloadCurrentFiles(
  lake: LocalLake | LakeLocation,
  namespace: string,
  table: string,
  destDir: string,
): Promise<string[]> {
  const where = 'catalogUri' in lake ? lake : lakeLocation(lake);
  const s3 = lakeS3Client(where.s3Endpoint);
  try {
    const store = s3ObjectStore(s3);
    const client = new IcebergRestClient({ uri: where.catalogUri, warehouse: where.warehouse, signer: 'none', objects: store });
    const loaded = await client.loadTable({ namespace, name: table });
    const current = currentSnapshot(loaded.metadata);
    if (!current) return [];
    mkdirSync(destDir, { recursive: true });
    const out: string[] = [];
    const listLocation = current['manifest-list'];
    for (const manifest of readManifestList(await store.get(listLocation), listLocation)) {
      if (manifest.content !== 0) continue; // delete manifests: this writer makes none
      for (const entry of readManifest(await store.get(manifest.manifest_path)).entries) {
        if (entry.status === 2) continue; // deleted in this snapshot
        const path = join(destDir, `${table}-${out.length}.parquet`);
        writeFileSync(path, await store.get(entry.data_file.file_path));
        out.push(path);
      }
    }
    return out;
  } finally {
    s3.destroy();
  }
}

const DUCKDB_TYPE: Record<ColumnType, string> = {
  string: 'VARCHAR',
  int: 'INTEGER',
  long: 'BIGINT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamptz: 'TIMESTAMPTZ',
};

export interface LakeQueryResult {
  readonly columns: string[];
  /** Values as DuckDB returns them to JS (BIGINT as bigint, timestamps as DuckDB values). */
  readonly rows: unknown[][];
  /** Rows as text, aligned, for printing. */
  readonly text: string;
}

/**
 * Answers SQL over the lake's Iceberg tables, standing in for Athena: each table (`trades`,
 * `spot_ob`, …, or only `tables`) is a DuckDB view over the Parquet files of its *current snapshot*
 * (found by walking the manifest list and manifests, downloaded from S3 into a temp dir), so the
 * answer is what a reader of the committed table sees — uncommitted files are not included.
 * A table with no snapshot yet is an empty table with the model's columns.
 */
export async function queryLake(options: LakeLocation & { sql: string; tables?: readonly TableName[] }): Promise<LakeQueryResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cf-lake-query-'));
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    for (const table of options.tables ?? TABLES) {
      const files = await downloadCurrentFiles(options, options.namespace, table, dir);
      if (files.length > 0) {
        const list = files.map((f) => `'${f.replace(/'/g, "''")}'`).join(', ');
        await conn.run(`CREATE VIEW "${table}" AS SELECT * FROM read_parquet([${list}])`);
      } else {
        const cols = TABLE_SCHEMAS[table].columns.map((c) => `"${c.name}" ${DUCKDB_TYPE[c.type]}`).join(', ');
        await conn.run(`CREATE TABLE "${table}" (${cols})`);
      }
    }
    const reader = await conn.runAndReadAll(options.sql);
    const columns = reader.columnNames();
    const rows = reader.getRowsJS() as unknown[][];
    return { columns, rows, text: formatRows(columns, rows) };
  } finally {
    conn.closeSync();
    instance.closeSync();
    rmSync(dir, { recursive: true, force: true });
  }
}

function formatRows(columns: string[], rows: unknown[][]): string {
  const cells = rows.map((r) =>
    r.map((v) => (v === null || v === undefined ? 'NULL' : v instanceof Date ? v.toISOString() : String(v))),
  );
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (cs: string[]): string => '   ' + cs.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
