import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CfError } from '@cryptoflow/core';

/** One object to store: a finished Parquet file and what describes it. */
export interface FilePut {
  /** Relative object key, `/`-separated (see keys.ts). */
  readonly key: string;
  readonly bytes: Uint8Array;
  readonly contentType: string;
  /** Small string metadata stored with the object where the store supports it (S3 `x-amz-meta-*`). */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface StoredFile {
  readonly key: string;
  /** Where a reader finds it: `file:///…` locally, `s3://bucket/key` on S3. */
  readonly uri: string;
  readonly bytes: number;
  /** SHA-256 of the bytes, base64 (the form S3 `x-amz-checksum-sha256` uses). */
  readonly checksumSha256: string;
}

/**
 * Where finished files go. Contract for every implementation:
 * - `put` resolves only once the object is durable (a crash after resolve never loses it).
 * - Idempotent: putting the same key with the same bytes again succeeds without change (replays after a
 *   crash re-put files they already stored).
 * - The same key with *different* bytes is refused (CfError CF_SINK_IO / CF_S3, not retriable): keys are
 *   derived from content, so this means a bug or a foreign writer, and overwriting would lose data.
 * - Failures are CfError with `retriable` set when trying again may help.
 */
export interface FileStore {
  put(file: FilePut): Promise<StoredFile>;
}

export function sha256Base64(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64');
}

/** errno codes where a later attempt may succeed (space freed, descriptors released, device back). */
const RETRIABLE_ERRNO = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'ETIMEDOUT', 'EINTR', 'ESTALE']);

function ioError(op: string, path: string, err: unknown): CfError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return new CfError('CF_SINK_IO', `${op} ${path} failed: ${code ?? String(err)}`, {
    retriable: code !== undefined && RETRIABLE_ERRNO.has(code),
    cause: err,
    context: { op, path, errno: code },
  });
}

export interface LocalFileStoreOptions {
  /** Root directory; created if missing. */
  readonly dir: string;
  /** fsync file and directory before resolving (default true; tests of other things may turn it off for speed). */
  readonly fsync?: boolean;
}

/**
 * Files on a local disk, written so a crash leaves either the whole file or nothing under its key:
 * write `<key>.tmp-<random>`, fsync it, then `link()` it to the final name and fsync the directory.
 * `link` (not `rename`) because it refuses to replace an existing file: two writers racing on one key
 * cannot overwrite each other, and the loser compares bytes (equal → success, different → CF_SINK_IO).
 * On file systems without hard links the store falls back to `rename` after an existence check.
 */
export class LocalFileStore implements FileStore {
  readonly dir: string;
  private readonly fsync: boolean;

  constructor(options: LocalFileStoreOptions) {
    this.dir = resolve(options.dir);
    this.fsync = options.fsync ?? true;
  }

  /** Absolute path of a key; throws CF_SINK_IO for keys that would escape `dir`. */
  pathOf(key: string): string {
    if (key.length === 0 || isAbsolute(key) || key.includes('\\') || key.includes('\0')) {
      throw new CfError('CF_SINK_IO', `invalid object key ${JSON.stringify(key)}`, { context: { key } });
    }
    const path = normalize(join(this.dir, key));
    if (!path.startsWith(this.dir + sep) || key.split('/').some((p) => p === '..' || p === '.' || p === '')) {
      throw new CfError('CF_SINK_IO', `object key ${JSON.stringify(key)} escapes or is not canonical`, { context: { key } });
    }
    return path;
  }

  async put(file: FilePut): Promise<StoredFile> {
    const path = this.pathOf(file.key);
    const stored: StoredFile = {
      key: file.key,
      uri: pathToFileURL(path).href,
      bytes: file.bytes.byteLength,
      checksumSha256: sha256Base64(file.bytes),
    };
    if (await this.sameExisting(path, file)) return stored;

    const dir = dirname(path);
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw ioError('mkdir', dir, err);
    }
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    try {
      const fh = await open(tmp, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o644);
      try {
        await fh.writeFile(file.bytes);
        if (this.fsync) await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw ioError('write', tmp, err);
    }

    try {
      await link(tmp, path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        await unlink(tmp).catch(() => undefined);
        if (await this.sameExisting(path, file)) return stored;
        throw new CfError('CF_INTERNAL', `unreachable: ${path} vanished after EEXIST`);
      }
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EXDEV') {
        // No hard links here: check-then-rename (not race-free between two writers of one key, which the
        // sink never runs: one process owns a shard).
        try {
          if (await this.sameExisting(path, file)) {
            await unlink(tmp).catch(() => undefined);
            return stored;
          }
          await rename(tmp, path);
        } catch (err2) {
          await unlink(tmp).catch(() => undefined);
          if (err2 instanceof CfError) throw err2;
          throw ioError('rename', path, err2);
        }
      } else {
        await unlink(tmp).catch(() => undefined);
        throw ioError('link', path, err);
      }
    }
    await unlink(tmp).catch(() => undefined);
    if (this.fsync) await this.syncDir(dir);
    return stored;
  }

  /** True when `path` holds exactly these bytes; throws CF_SINK_IO when it holds other bytes. */
  private async sameExisting(path: string, file: FilePut): Promise<boolean> {
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw ioError('stat', path, err);
    }
    let existing: Buffer | undefined;
    if (size === file.bytes.byteLength) {
      try {
        existing = await readFile(path);
      } catch (err) {
        throw ioError('read', path, err);
      }
    }
    if (existing !== undefined && Buffer.compare(existing, file.bytes) === 0) return true;
    throw new CfError('CF_SINK_IO', `object ${file.key} already exists with different content (${size} bytes stored, ${file.bytes.byteLength} offered)`, {
      retriable: false,
      context: { key: file.key, path, storedBytes: size, offeredBytes: file.bytes.byteLength },
    });
  }

  private async syncDir(dir: string): Promise<void> {
    try {
      const fh = await open(dir, fsConstants.O_RDONLY);
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw ioError('fsync dir', dir, err);
    }
  }
}
