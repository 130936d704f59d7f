/**
 * A local Iceberg REST catalog serving the subset Amazon S3 Tables serves
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-tables-integrating-open-source.html):
 * config, single-level namespaces, create/load/commit/drop(purge)/rename tables, HEAD exists.
 * Routes and bodies follow rest-catalog-open-api.yaml. Table metadata JSON lives in S3 next to the
 * table's data; the catalog's pointer (table → current metadata file) is swapped under a lock, so a
 * commit whose requirements no longer hold gets 409 CommitFailedException.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CatalogError, badRequest, noSuchNamespace, noSuchTable } from './errors.js';
import { CatalogFaults } from './faults.js';
import { parseJson, stringifyJson } from './json.js';
import type { Json, TableMetadata } from './metadata.js';
import { applyUpdates, checkRequirements, newTableMetadata } from './metadata.js';
import { ObjectStore } from './store.js';
import type { S3Options } from './store.js';

export interface IcebergCatalogOptions {
  readonly s3: S3Options;
  /** Warehouse identifier clients pass to /v1/config and use as `{prefix}` (for S3 Tables: the table bucket ARN). */
  readonly warehouse: string;
  /** Where table data and metadata live; default `s3://<bucket>/warehouse`. */
  readonly location?: string;
  readonly port?: number;
  readonly host?: string;
}

export interface RunningCatalog {
  readonly uri: string;
  readonly warehouse: string;
  readonly faults: CatalogFaults;
  close(): Promise<void>;
}

/** Every route this server answers, in OpenAPI path-template form (checked against the spec in tests). */
export const ROUTES: readonly {
  readonly method: 'get' | 'post' | 'head' | 'delete';
  readonly path: string;
}[] = [
  { method: 'get', path: '/v1/config' },
  { method: 'get', path: '/v1/{prefix}/namespaces' },
  { method: 'post', path: '/v1/{prefix}/namespaces' },
  { method: 'get', path: '/v1/{prefix}/namespaces/{namespace}' },
  { method: 'head', path: '/v1/{prefix}/namespaces/{namespace}' },
  { method: 'delete', path: '/v1/{prefix}/namespaces/{namespace}' },
  { method: 'get', path: '/v1/{prefix}/namespaces/{namespace}/tables' },
  { method: 'post', path: '/v1/{prefix}/namespaces/{namespace}/tables' },
  { method: 'get', path: '/v1/{prefix}/namespaces/{namespace}/tables/{table}' },
  { method: 'head', path: '/v1/{prefix}/namespaces/{namespace}/tables/{table}' },
  { method: 'post', path: '/v1/{prefix}/namespaces/{namespace}/tables/{table}' },
  { method: 'delete', path: '/v1/{prefix}/namespaces/{namespace}/tables/{table}' },
  { method: 'post', path: '/v1/{prefix}/tables/rename' },
];

/** S3 Tables names: lower-case letters, digits and underscores, starting with a letter or digit. */
const NAME = /^[a-z0-9][a-z0-9_]{0,254}$/;

interface Pointer {
  metadataLocation: string;
  uuid: string;
}

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

export class IcebergCatalog {
  readonly faults = new CatalogFaults();
  private readonly store: ObjectStore;
  private readonly bucket: string;
  /** Key prefix (no leading/trailing slash) of the warehouse in the bucket. */
  private readonly root: string;
  private readonly lock = new Mutex();

  constructor(private readonly options: IcebergCatalogOptions) {
    this.store = new ObjectStore(options.s3);
    const location = options.location ?? `s3://${options.s3.bucket}/warehouse`;
    const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(location);
    if (!m) throw new Error(`location: expected s3://bucket/prefix, got ${location}`);
    if (m[1] !== options.s3.bucket)
      throw new Error(`location ${location} must be in bucket ${options.s3.bucket}`);
    this.bucket = m[1];
    this.root = (m[2] ?? '').replace(/\/+$/, '');
  }

  async init(): Promise<void> {
    await this.store.ensureBucket();
  }

  destroy(): void {
    this.store.destroy();
  }

  private key(...parts: string[]): string {
    return [this.root, ...parts].filter((p) => p.length > 0).join('/');
  }
  private nsKey(ns: string): string {
    return this.key('_catalog', 'namespaces', `${ns}.json`);
  }
  private tableKey(ns: string, name: string): string {
    return this.key('_catalog', 'tables', ns, `${name}.json`);
  }
  private keyOf(location: string): string {
    const prefix = `s3://${this.bucket}/`;
    if (!location.startsWith(prefix))
      throw new Error(`location ${location} is outside bucket ${this.bucket}`);
    return location.slice(prefix.length);
  }

  // ------------------------------------------------------------------ HTTP

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.route(req, res).catch((err: unknown) => {
      const e =
        err instanceof CatalogError
          ? err
          : new CatalogError(500, 'InternalServerError', (err as Error).message ?? String(err));
      send(res, e.status, errorBody(e), req.method === 'HEAD');
    });
  };

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://catalog');
    const method = (req.method ?? 'GET').toUpperCase();
    const seg = url.pathname
      .split('/')
      .slice(1)
      .map((s) => decodeURIComponent(s));
    const head = method === 'HEAD';
    if (seg[0] !== 'v1')
      throw new CatalogError(404, 'NotFoundException', `No route for ${method} ${url.pathname}`);
    if (seg.length === 2 && seg[1] === 'config' && method === 'GET') {
      const wh = url.searchParams.get('warehouse');
      if (wh && wh !== this.options.warehouse)
        throw new CatalogError(404, 'NoSuchWarehouseException', `Warehouse does not exist: ${wh}`);
      return send(res, 200, {
        defaults: {},
        overrides: { prefix: this.options.warehouse },
        endpoints: ROUTES.filter((r) => r.path !== '/v1/config').map(
          (r) => `${r.method.toUpperCase()} ${r.path}`,
        ),
      });
    }
    const prefix = seg[1];
    if (prefix !== this.options.warehouse)
      throw new CatalogError(404, 'NoSuchWarehouseException', `Unknown prefix: ${prefix ?? ''}`);
    const rest = seg.slice(2);
    if (rest[0] === 'tables' && rest[1] === 'rename' && rest.length === 2 && method === 'POST') {
      await this.renameTable(await readBody(req));
      return send(res, 204);
    }
    if (rest[0] !== 'namespaces')
      throw new CatalogError(404, 'NotFoundException', `No route for ${method} ${url.pathname}`);
    if (rest.length === 1) {
      if (method === 'GET') return send(res, 200, await this.listNamespaces(url.searchParams.get('parent')));
      if (method === 'POST') return send(res, 200, await this.createNamespace(await readBody(req)));
    }
    const ns = rest[1];
    if (ns === undefined)
      throw new CatalogError(405, 'MethodNotAllowed', `${method} not allowed on ${url.pathname}`);
    if (rest.length === 2) {
      if (method === 'GET' || head) {
        const found = await this.getNamespace(ns);
        return send(res, head ? 204 : 200, found, head);
      }
      if (method === 'DELETE') {
        await this.dropNamespace(ns);
        return send(res, 204);
      }
    }
    if (rest[2] === 'tables') {
      if (rest.length === 3) {
        if (method === 'GET') return send(res, 200, await this.listTables(ns));
        if (method === 'POST') return send(res, 200, await this.createTable(ns, await readBody(req)));
      }
      const name = rest[3];
      if (rest.length === 4 && name !== undefined) {
        if (method === 'GET' || head) {
          const loaded = await this.loadTable(ns, name, url.searchParams.get('snapshots'));
          return send(res, head ? 204 : 200, loaded, head);
        }
        if (method === 'POST') return this.commit(ns, name, await readBody(req), res);
        if (method === 'DELETE') {
          await this.dropTable(ns, name, url.searchParams.get('purgeRequested') === 'true');
          return send(res, 204);
        }
      }
    }
    throw new CatalogError(404, 'NotFoundException', `No route for ${method} ${url.pathname}`);
  }

  // ------------------------------------------------------------------ namespaces

  private checkName(kind: string, name: string): void {
    if (name.includes('\u001f'))
      throw badRequest(`${kind} ${JSON.stringify(name)}: multi-level namespaces are not supported`);
    if (!NAME.test(name))
      throw badRequest(`${kind} ${JSON.stringify(name)}: use lower-case letters, digits and underscores`);
  }

  private async listNamespaces(parent: string | null): Promise<Json> {
    if (parent) {
      // Single-level namespaces: an existing parent has no children.
      await this.getNamespace(parent);
      return { namespaces: [] };
    }
    const prefix = this.key('_catalog', 'namespaces') + '/';
    const keys = await this.store.list(prefix);
    return {
      namespaces: keys
        .filter((k) => k.endsWith('.json'))
        .map((k) => [k.slice(prefix.length, -'.json'.length)]),
    };
  }

  private async createNamespace(body: unknown): Promise<Json> {
    const b = body as { namespace?: unknown; properties?: unknown };
    if (!Array.isArray(b?.namespace) || b.namespace.length !== 1 || typeof b.namespace[0] !== 'string') {
      throw badRequest('namespace: expected a single-level namespace like ["market_data"]');
    }
    const ns = b.namespace[0];
    this.checkName('namespace', ns);
    const properties = (b.properties ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(properties))
      if (typeof v !== 'string') throw badRequest(`properties.${k}: must be a string`);
    return this.lock.run(async () => {
      if ((await this.store.getText(this.nsKey(ns))) !== null)
        throw new CatalogError(409, 'AlreadyExistsException', `Namespace already exists: ${ns}`);
      const doc = {
        namespace: [ns],
        properties: { ...(properties as Record<string, string>), created_at: String(Date.now()) },
      };
      await this.store.putText(this.nsKey(ns), stringifyJson(doc));
      return doc;
    });
  }

  private async getNamespace(ns: string): Promise<Json> {
    const text = await this.store.getText(this.nsKey(ns));
    if (text === null) throw noSuchNamespace(ns);
    return parseJson(text) as Json;
  }

  private async dropNamespace(ns: string): Promise<void> {
    await this.lock.run(async () => {
      await this.getNamespace(ns);
      const tables = await this.store.list(this.key('_catalog', 'tables', ns) + '/');
      if (tables.length > 0)
        throw new CatalogError(
          409,
          'NamespaceNotEmptyException',
          `Namespace ${ns} is not empty: ${tables.length} tables`,
        );
      await this.store.delete(this.nsKey(ns));
    });
  }

  // ------------------------------------------------------------------ tables

  private async listTables(ns: string): Promise<Json> {
    await this.getNamespace(ns);
    const prefix = this.key('_catalog', 'tables', ns) + '/';
    const keys = await this.store.list(prefix);
    return {
      identifiers: keys
        .filter((k) => k.endsWith('.json'))
        .map((k) => ({ namespace: [ns], name: k.slice(prefix.length, -'.json'.length) })),
    };
  }

  private async pointer(ns: string, name: string): Promise<Pointer | null> {
    const text = await this.store.getText(this.tableKey(ns, name));
    return text === null ? null : (parseJson(text) as Pointer);
  }

  private async readMetadata(location: string): Promise<TableMetadata> {
    const text = await this.store.getText(this.keyOf(location));
    if (text === null)
      throw new CatalogError(500, 'InternalServerError', `metadata file missing: ${location}`);
    return parseJson(text) as TableMetadata;
  }

  private async writeMetadata(md: TableMetadata, version: number): Promise<string> {
    const location = `${md.location}/metadata/${String(version).padStart(5, '0')}-${randomUUID()}.metadata.json`;
    await this.store.putText(this.keyOf(location), stringifyJson(md));
    return location;
  }

  private async createTable(ns: string, body: unknown): Promise<Json> {
    const b = body as Json;
    if (typeof b?.['name'] !== 'string') throw badRequest('name: required');
    const name = b['name'];
    this.checkName('table', name);
    if (b['stage-create'] === true) throw badRequest('stage-create is not supported (as on S3 Tables)');
    if (b['location'] !== undefined) throw badRequest('location: table locations are managed by the catalog');
    return this.lock.run(async () => {
      await this.getNamespace(ns);
      if (await this.pointer(ns, name))
        throw new CatalogError(409, 'AlreadyExistsException', `Table already exists: ${ns}.${name}`);
      const id = randomUUID().replaceAll('-', '');
      const md = newTableMetadata({
        location: `s3://${this.bucket}/${this.key(ns, `${name}-${id}`)}`,
        schema: b['schema'],
        partitionSpec: b['partition-spec'],
        writeOrder: b['write-order'],
        properties: b['properties'],
        now: Date.now(),
      });
      const metadataLocation = await this.writeMetadata(md, 0);
      await this.store.putText(
        this.tableKey(ns, name),
        stringifyJson({ metadataLocation, uuid: md['table-uuid'] }),
      );
      return { 'metadata-location': metadataLocation, metadata: md, config: {} };
    });
  }

  private async loadTable(ns: string, name: string, snapshots: string | null): Promise<Json> {
    const p = await this.pointer(ns, name);
    if (!p) throw noSuchTable(ns, name);
    const md = await this.readMetadata(p.metadataLocation);
    if (snapshots === 'refs') {
      const ids = Object.values(md.refs).map((r) => String(r['snapshot-id']));
      md.snapshots = md.snapshots.filter((s) => ids.includes(String(s['snapshot-id'])));
    }
    return { 'metadata-location': p.metadataLocation, metadata: md, config: {} };
  }

  private async commit(ns: string, name: string, body: unknown, res: ServerResponse): Promise<void> {
    this.faults.stats.received++;
    const hook = this.faults.takeHook();
    if (hook) await hook();
    const fault = this.faults.take();
    if (fault && !fault.apply && fault.kind === 'fail') {
      this.faults.stats.injected++;
      return send(res, fault.status!, errorBody(injected(fault.status!)));
    }
    const b = body as Json;
    if (!b || !Array.isArray(b['requirements']) || !Array.isArray(b['updates']))
      throw badRequest('requirements and updates are required');
    let result: Json;
    try {
      result = await this.lock.run(async () => {
        const p = await this.pointer(ns, name);
        if (!p) throw noSuchTable(ns, name);
        const md = await this.readMetadata(p.metadataLocation);
        checkRequirements(md, b['requirements']);
        const next = applyUpdates(md, b['updates'], Date.now(), p.metadataLocation);
        const version = versionOf(p.metadataLocation) + 1;
        const metadataLocation = await this.writeMetadata(next, version);
        // The commit point: one PUT swaps the pointer while the lock keeps other writers out.
        await this.store.putText(
          this.tableKey(ns, name),
          stringifyJson({ metadataLocation, uuid: next['table-uuid'] }),
        );
        this.faults.stats.applied++;
        return { 'metadata-location': metadataLocation, metadata: next };
      });
    } catch (err) {
      if (err instanceof CatalogError && err.status === 409) this.faults.stats.conflicts++;
      throw err;
    }
    if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault?.kind === 'fail') {
      this.faults.stats.injected++;
      return send(res, fault.status!, errorBody(injected(fault.status!)));
    }
    return send(res, 200, result);
  }

  private async dropTable(ns: string, name: string, purge: boolean): Promise<void> {
    if (!purge) throw badRequest('S3 Tables drops tables only with purgeRequested=true');
    const location = await this.lock.run(async () => {
      const p = await this.pointer(ns, name);
      if (!p) throw noSuchTable(ns, name);
      const md = await this.readMetadata(p.metadataLocation);
      await this.store.delete(this.tableKey(ns, name));
      return md.location;
    });
    // Purge after the table is gone from the catalog: readers can no longer find the files.
    for (const key of await this.store.list(this.keyOf(location) + '/')) await this.store.delete(key);
  }

  private async renameTable(body: unknown): Promise<void> {
    const b = body as {
      source?: { namespace?: string[]; name?: string };
      destination?: { namespace?: string[]; name?: string };
    };
    const src = b?.source;
    const dst = b?.destination;
    if (!src?.namespace?.[0] || !src.name || !dst?.namespace?.[0] || !dst.name)
      throw badRequest('source and destination identifiers are required');
    const [sns, sname, dns, dname] = [src.namespace[0], src.name, dst.namespace[0], dst.name];
    this.checkName('table', dname);
    await this.lock.run(async () => {
      const p = await this.pointer(sns, sname);
      if (!p) throw noSuchTable(sns, sname);
      await this.getNamespace(dns);
      if (await this.pointer(dns, dname))
        throw new CatalogError(409, 'AlreadyExistsException', `Table already exists: ${dns}.${dname}`);
      await this.store.putText(this.tableKey(dns, dname), stringifyJson(p));
      await this.store.delete(this.tableKey(sns, sname));
    });
  }
}

function versionOf(location: string): number {
  const m = /\/(\d+)-[^/]*\.metadata\.json$/.exec(location);
  return m ? Number(m[1]) : 0;
}

function injected(status: number): CatalogError {
  if (status === 409)
    return new CatalogError(409, 'CommitFailedException', 'Injected fault: commit conflict');
  return new CatalogError(
    status,
    'CommitStateUnknownException',
    `Injected fault: commit state unknown (${status})`,
  );
}

function errorBody(e: CatalogError): Json {
  return { error: { message: e.message, type: e.type, code: e.status } };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.length === 0) throw badRequest('request body is required');
  try {
    return parseJson(text);
  } catch (err) {
    throw badRequest(`malformed JSON body: ${(err as Error).message}`);
  }
}

function send(res: ServerResponse, status: number, body?: unknown, headOnly = false): void {
  if (res.headersSent) return;
  if (body === undefined || status === 204) {
    res.writeHead(status).end();
    return;
  }
  const text = stringifyJson(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(headOnly ? undefined : text);
}

export async function startIcebergCatalog(options: IcebergCatalogOptions): Promise<RunningCatalog> {
  const catalog = new IcebergCatalog(options);
  await catalog.init();
  const server: Server = createServer(catalog.handle);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    uri: `http://${host}:${port}`,
    warehouse: options.warehouse,
    faults: catalog.faults,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => {
          catalog.destroy();
          if (err) reject(err);
          else resolve();
        });
      }),
  };
}
