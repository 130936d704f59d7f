import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { CfError } from '@cryptoflow/core';

/**
 * Append-only spill segments for one channel: `<spillDir>/<encodeURIComponent(name)>/seg-<seq>.jsonl`,
 * one item per line. The writer appends to the newest segment and rotates at `segmentBytes`; the
 * reader consumes segments in sequence order and deletes each one it has read to the end.
 *
 * I/O is synchronous, in chunks: `offer()` is synchronous by contract and strict FIFO order is
 * simplest to keep with one cursor. Writes are buffered (`writeBufferBytes`, flushed at that size, on
 * a `flushMs` timer, before the reader needs them and on close); reads take up to 1 MiB per call.
 * This only runs while the channel is over capacity.
 *
 * Files in the directory:
 * - `seg-<16 digits>.jsonl` segments; a trailing partial line (crash mid-write) is skipped and counted.
 * - `cursor` — `<seq> <offset>` of the next unread byte, rewritten (one pwrite) after each read.
 * - `lock` — pid of the owning process; a lock whose pid is gone is taken over.
 */
export interface SpillStoreOptions {
  readonly channel: string;
  readonly root: string;
  readonly segmentBytes: number;
  readonly writeBufferBytes: number;
  readonly flushMs: number;
}

const SEGMENT_RE = /^seg-(\d{16})\.jsonl$/;
/** First segment number in an empty directory; leaves room below for nothing in particular but keeps names fixed-width. */
const FIRST_SEQ = 1_000_000;
const CURSOR_WIDTH = 48;
const READ_CHUNK = 1 << 20;

function segmentName(seq: number): string {
  return `seg-${String(seq).padStart(16, '0')}.jsonl`;
}

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err
    ? String((err as { code: unknown }).code)
    : undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errCode(err) === 'EPERM';
  }
}

export class SpillStore {
  readonly dir: string;
  /** Lines written (or buffered) and not yet read. */
  backlog = 0;
  /** Lines found in the directory when it was opened (left by an earlier process). */
  readonly recovered: number;
  bytesWritten = 0;
  tornTails = 0;

  private readonly channel: string;
  private readonly segmentBytes: number;
  private readonly writeBufferBytes: number;
  private readonly flushMs: number;
  private readonly lockPath: string;
  private readonly cursorPath: string;
  /** Segments not yet fully read, oldest first; [0] is the reader's. */
  private segments: number[] = [];
  private nextSeq: number;
  private readFd = -1;
  private readSeq = -1;
  /** Offset of the next unread byte in segments[0]. */
  private readOffset = 0;
  private readBuf = Buffer.allocUnsafe(READ_CHUNK);
  /** readBuf[bufPos, bufLen) holds the bytes of segments[0] from readOffset on. */
  private bufPos = 0;
  private bufLen = 0;
  private writeFd = -1;
  private writeSeq = -1;
  private writeBytes = 0;
  /** Lines not yet written: wbuf[0, wlen). Encoded straight into one buffer — no join, no copy. */
  private wbuf: Buffer;
  private wlen = 0;
  private cursorFd = -1;
  private timer: NodeJS.Timeout | undefined;
  private failure: CfError | undefined;
  private released = false;
  private readonly onTimer = (): void => {
    this.timer = undefined;
    try {
      this.flush();
    } catch (err) {
      // No caller to throw to: the next append/read rethrows it.
      this.failure = err instanceof CfError ? err : this.ioError('flush', this.dir, err);
    }
  };

  constructor(opts: SpillStoreOptions) {
    if (opts.channel === '.' || opts.channel === '..' || opts.channel === '') {
      throw new CfError(
        'CF_CONFIG_INVALID',
        `channel name ${JSON.stringify(opts.channel)} cannot name a spill directory`,
      );
    }
    this.channel = opts.channel;
    this.segmentBytes = opts.segmentBytes;
    this.writeBufferBytes = opts.writeBufferBytes;
    this.flushMs = opts.flushMs;
    this.wbuf = Buffer.allocUnsafe(Math.max(opts.writeBufferBytes, 4096));
    this.dir = join(opts.root, encodeURIComponent(opts.channel));
    this.lockPath = join(this.dir, 'lock');
    this.cursorPath = join(this.dir, 'cursor');
    this.io('mkdir', this.dir, () => mkdirSync(this.dir, { recursive: true }));
    this.acquireLock();
    try {
      const names = this.io('readdir', this.dir, () => readdirSync(this.dir));
      const seqs: number[] = [];
      for (const name of names) {
        const m = SEGMENT_RE.exec(name);
        if (m) seqs.push(Number(m[1]));
        else if (name.endsWith('.tmp')) this.unlink(join(this.dir, name)); // an interrupted detach; the original is intact
      }
      seqs.sort((a, b) => a - b);
      const cursor = this.readCursor();
      let startOffset = 0;
      if (cursor) {
        while (seqs.length > 0 && seqs[0]! < cursor.seq) this.unlink(this.segPath(seqs.shift()!)); // fully read before the stop
        if (seqs[0] === cursor.seq) startOffset = cursor.offset;
      }
      this.nextSeq = Math.max(FIRST_SEQ, (seqs.at(-1) ?? 0) + 1, (cursor?.seq ?? 0) + 1);
      let recovered = 0;
      for (let i = 0; i < seqs.length; i++) recovered += this.countLines(seqs[i]!, i === 0 ? startOffset : 0);
      this.segments = seqs;
      this.readOffset = startOffset;
      this.recovered = recovered;
      this.backlog = recovered;
      this.cursorFd = this.io('open', this.cursorPath, () => openSync(this.cursorPath, 'w'));
      if (recovered === 0) this.reset();
      else this.writeCursor();
    } catch (err) {
      // Do not keep the directory locked for a channel that never came up.
      if (this.cursorFd >= 0) closeSync(this.cursorFd);
      this.unlink(this.lockPath);
      throw err;
    }
  }

  /** Appends one line (no newline inside; the caller checked). */
  append(line: string): void {
    if (this.failure) throw this.failure;
    const worst = line.length * 3 + 1; // UTF-8 bytes of a UTF-16 string are at most 3 per code unit
    if (this.wlen + worst > this.wbuf.length) {
      this.flush();
      if (worst > this.wbuf.length) this.wbuf = Buffer.allocUnsafe(worst);
    }
    if (this.writeFd < 0) this.openWriter();
    this.wlen += this.wbuf.write(line, this.wlen, 'utf8');
    this.wbuf[this.wlen++] = 10;
    this.backlog++;
    if (this.wlen >= this.writeBufferBytes) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(this.onTimer, this.flushMs);
      this.timer.unref();
    }
  }

  /** Writes buffered lines to the current segment; rotates when it has reached segmentBytes. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const len = this.wlen;
    if (len === 0) return;
    const data = this.wbuf;
    const fd = this.writeFd;
    let off = 0;
    try {
      while (off < len) off += writeSync(fd, data, off, len - off);
    } catch (err) {
      // Keep what was not written, so a retry neither loses nor repeats a line.
      if (off > 0) data.copy(data, 0, off, len);
      this.wlen = len - off;
      this.writeBytes += off;
      this.bytesWritten += off;
      throw this.ioError('write', this.segPath(this.writeSeq), err);
    }
    this.wlen = 0;
    this.writeBytes += len;
    this.bytesWritten += len;
    if (this.writeBytes >= this.segmentBytes) this.closeWriter();
  }

  /**
   * Moves up to `max` lines, oldest first, into `out` (cleared first). Returns how many.
   * Deletes each segment it reads to the end; when the backlog reaches zero the directory is emptied.
   */
  readLines(max: number, out: string[]): number {
    if (this.failure) throw this.failure;
    out.length = 0;
    while (out.length < max && this.backlog > 0) {
      if (this.readFd < 0) this.openReader();
      // Lines already in the buffer first: a read fetches up to 1 MiB, a refill may want far fewer lines.
      let buf = this.readBuf;
      let taken = 0;
      while (out.length < max && this.bufPos < this.bufLen) {
        const nl = buf.indexOf(10, this.bufPos);
        if (nl < 0 || nl >= this.bufLen) break;
        out.push(buf.toString('utf8', this.bufPos, nl));
        this.readOffset += nl + 1 - this.bufPos;
        this.bufPos = nl + 1;
        taken++;
      }
      this.backlog -= taken;
      if (out.length >= max || this.backlog === 0) break;
      // Need more bytes: keep the partial line, read behind it.
      if (this.readSeq === this.writeSeq && this.wlen > 0) this.flush();
      const rest = this.bufLen - this.bufPos;
      if (rest === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2); // one line longer than the buffer
        buf.copy(bigger, 0, this.bufPos, this.bufLen);
        this.readBuf = buf = bigger;
      } else if (this.bufPos > 0 && rest > 0) {
        buf.copy(buf, 0, this.bufPos, this.bufLen);
      }
      this.bufPos = 0;
      this.bufLen = rest;
      const fd = this.readFd;
      const n = this.io('read', this.segPath(this.readSeq), () =>
        readSync(fd, buf, rest, buf.length - rest, this.readOffset + rest),
      );
      if (n > 0) {
        this.bufLen += n;
        continue;
      }
      if (this.readSeq === this.writeSeq) {
        throw new CfError(
          'CF_SPILL_IO',
          `spill of channel ${this.channel}: ${this.backlog} lines expected but the segment ends`,
          {
            context: { channel: this.channel, path: this.segPath(this.readSeq), offset: this.readOffset },
          },
        );
      }
      if (rest > 0) this.tornTails++; // partial last line of a segment cut short by a crash
      this.closeReader();
      this.unlink(this.segPath(this.segments.shift()!));
      this.readOffset = 0;
    }
    if (out.length > 0) {
      if (this.backlog === 0) this.reset();
      else this.writeCursor();
    }
    return out.length;
  }

  /**
   * Hands the directory over to a later channel without losing anything: `head` (lines older than
   * everything on disk — the memory ring) is written in front of the unread part of the first segment,
   * the cursor points at it, the lock is released.
   */
  detach(head: readonly string[]): void {
    if (this.released) return;
    this.flush();
    this.closeReader();
    if (head.length > 0) {
      const prefix = Buffer.from(head.join('\n') + '\n', 'utf8');
      if (this.segments.length === 0) {
        const seq = this.nextSeq++;
        const path = this.segPath(seq);
        this.writeFile(path, prefix, -1, 0);
        this.segments.push(seq);
      } else {
        const first = this.segments[0]!;
        if (this.writeSeq === first) this.closeWriter();
        const path = this.segPath(first);
        this.writeFile(`${path}.tmp`, prefix, first, this.readOffset);
        this.io('rename', path, () => renameSync(`${path}.tmp`, path));
      }
      this.readOffset = 0;
    }
    this.closeWriter();
    if (this.segments.length > 0) this.writeCursor();
    this.closeCursor();
    this.unlink(this.lockPath);
    this.released = true;
    this.backlog = 0; // no longer ours: the next channel on this directory counts it again
    this.segments = [];
  }

  /** Called once the channel is closed and drained: nothing is left, remove the directory. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.closeReader();
    this.closeWriter();
    for (const seq of this.segments) this.unlink(this.segPath(seq));
    this.segments = [];
    this.closeCursor();
    this.unlink(this.cursorPath);
    this.unlink(this.lockPath);
    try {
      rmdirSync(this.dir);
    } catch {
      // not empty (someone else's file) or already gone: leave it
    }
  }

  get isReleased(): boolean {
    return this.released;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  private reset(): void {
    this.closeReader();
    this.closeWriter();
    for (const seq of this.segments) this.unlink(this.segPath(seq));
    this.segments = [];
    this.readOffset = 0;
    this.writeRawCursor('');
  }

  private openWriter(): void {
    const seq = this.nextSeq++;
    const path = this.segPath(seq);
    this.writeFd = this.io('open', path, () => openSync(path, 'a'));
    this.writeSeq = seq;
    this.writeBytes = 0;
    this.segments.push(seq);
  }

  private closeWriter(): void {
    if (this.writeFd >= 0) {
      const fd = this.writeFd;
      this.io('close', this.segPath(this.writeSeq), () => closeSync(fd));
    }
    this.writeFd = -1;
    this.writeSeq = -1;
  }

  private openReader(): void {
    const seq = this.segments[0];
    if (seq === undefined) {
      throw new CfError(
        'CF_SPILL_IO',
        `spill of channel ${this.channel}: ${this.backlog} lines expected but no segment left`,
        {
          context: { channel: this.channel, dir: this.dir },
        },
      );
    }
    const path = this.segPath(seq);
    this.readFd = this.io('open', path, () => openSync(path, 'r'));
    this.readSeq = seq;
  }

  private closeReader(): void {
    if (this.readFd >= 0) {
      const fd = this.readFd;
      this.io('close', this.segPath(this.readSeq), () => closeSync(fd));
    }
    this.readFd = -1;
    this.readSeq = -1;
    this.bufPos = 0;
    this.bufLen = 0;
  }

  private closeCursor(): void {
    if (this.cursorFd >= 0) {
      const fd = this.cursorFd;
      this.io('close', this.cursorPath, () => closeSync(fd));
    }
    this.cursorFd = -1;
  }

  private writeCursor(): void {
    const seq = this.segments[0];
    this.writeRawCursor(seq === undefined ? '' : `${seq} ${this.readOffset}`);
  }

  /** Fixed width, one positional write: the file never holds a mix of two cursors' digits. */
  private writeRawCursor(text: string): void {
    if (this.cursorFd < 0) return;
    const record = text.padEnd(CURSOR_WIDTH, ' ') + '\n';
    this.io('write', this.cursorPath, () => writeSync(this.cursorFd, record, 0, 'latin1'));
  }

  private readCursor(): { seq: number; offset: number } | undefined {
    let text: string;
    try {
      text = readFileSync(this.cursorPath, 'latin1').trim();
    } catch (err) {
      if (errCode(err) === 'ENOENT') return undefined;
      throw this.ioError('read', this.cursorPath, err);
    }
    const [seq, offset] = text.split(' ').map(Number);
    // A torn or empty cursor means "from the start of the oldest segment": duplicates, never loss.
    if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(offset) || offset! < 0) return undefined;
    return { seq: seq!, offset: offset! };
  }

  private countLines(seq: number, from: number): number {
    const path = this.segPath(seq);
    const fd = this.io('open', path, () => openSync(path, 'r'));
    const buf = this.readBuf;
    let lines = 0;
    let pos = from;
    try {
      for (;;) {
        const n = this.io('read', path, () => readSync(fd, buf, 0, buf.length, pos));
        if (n === 0) break;
        for (let i = buf.indexOf(10, 0); i >= 0 && i < n; i = buf.indexOf(10, i + 1)) lines++;
        pos += n;
      }
    } finally {
      closeSync(fd);
    }
    return lines;
  }

  /** Writes `prefix` then the bytes of segment `fromSeq` starting at `fromOffset` (none when fromSeq < 0). */
  private writeFile(path: string, prefix: Buffer, fromSeq: number, fromOffset: number): void {
    const out = this.io('open', path, () => openSync(path, 'w'));
    try {
      this.io('write', path, () => {
        let off = 0;
        while (off < prefix.length) off += writeSync(out, prefix, off, prefix.length - off);
      });
      if (fromSeq >= 0) {
        const src = this.segPath(fromSeq);
        const fd = this.io('open', src, () => openSync(src, 'r'));
        try {
          let pos = fromOffset;
          for (;;) {
            const n = this.io('read', src, () => readSync(fd, this.readBuf, 0, this.readBuf.length, pos));
            if (n === 0) break;
            this.io('write', path, () => {
              let off = 0;
              while (off < n) off += writeSync(out, this.readBuf, off, n - off);
            });
            pos += n;
          }
        } finally {
          closeSync(fd);
        }
      }
    } finally {
      closeSync(out);
    }
  }

  private acquireLock(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.lockPath, 'wx');
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return;
      } catch (err) {
        if (errCode(err) !== 'EEXIST') throw this.ioError('lock', this.lockPath, err);
      }
      let pid = Number.NaN;
      try {
        pid = Number(readFileSync(this.lockPath, 'latin1').trim());
      } catch {
        // vanished or unreadable: treat as stale
      }
      if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) {
        throw new CfError(
          'CF_SPILL_IO',
          `spill directory of channel ${this.channel} is in use by pid ${pid}${pid === process.pid ? ' (this process)' : ''}`,
          {
            context: { channel: this.channel, dir: this.dir, pid },
          },
        );
      }
      this.unlink(this.lockPath); // the owner died: take over
    }
    throw new CfError('CF_SPILL_IO', `could not lock the spill directory of channel ${this.channel}`, {
      context: { dir: this.dir },
    });
  }

  private segPath(seq: number): string {
    return join(this.dir, segmentName(seq));
  }

  private unlink(path: string): void {
    try {
      unlinkSync(path);
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw this.ioError('unlink', path, err);
    }
  }

  private io<R>(op: string, path: string, fn: () => R): R {
    try {
      return fn();
    } catch (err) {
      throw this.ioError(op, path, err);
    }
  }

  private ioError(op: string, path: string, cause: unknown): CfError {
    const code = errCode(cause);
    return new CfError(
      'CF_SPILL_IO',
      `spill ${op} failed for channel ${this.channel}: ${path}${code ? ` (${code})` : ''}`,
      {
        cause,
        retriable: code === 'ENOSPC' || code === 'EMFILE' || code === 'ENFILE' || code === 'EAGAIN',
        context: { channel: this.channel, op, path, errno: code },
      },
    );
  }
}
