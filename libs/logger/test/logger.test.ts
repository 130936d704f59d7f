import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { OnceLogger, connectionLogger, createLogger } from '../src/index.js';

function capture(): { lines: () => Record<string, unknown>[]; stream: PassThrough } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  return { stream, lines: () => chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logger', () => {
  it('binds connection identity on every line and redacts secrets', () => {
    const out = capture();
    const log = createLogger({ app: 'collector-ticks', destination: out.stream });
    const conn = connectionLogger(log, { exchange: 'binance', stream: 'ticks', shard: 3, conn: 'c1' });
    conn.info({ apiKey: 'AKIA-SECRET', req: { secretAccessKey: 'xyz' } }, 'connected');
    const [line] = out.lines();
    expect(line).toMatchObject({ app: 'collector-ticks', exchange: 'binance', stream: 'ticks', shard: 3, conn: 'c1', msg: 'connected' });
    expect(JSON.stringify(line)).not.toContain('AKIA-SECRET');
    expect(JSON.stringify(line)).not.toContain('xyz');
  });

  it('does not bind a key twice when the parent already carries it', () => {
    const stream = new PassThrough();
    let raw = '';
    stream.on('data', (c: Buffer) => (raw += c.toString()));
    const shardLog = createLogger({ app: 'collector-ticks', destination: stream }).child({ exchange: 'binance', shard: '3' });
    connectionLogger(shardLog, { exchange: 'binance', stream: 'ticks', shard: 3, conn: 'c1' }).info('open');
    expect(raw.match(/"exchange"/g)).toHaveLength(1);
    expect(raw.match(/"shard"/g)).toHaveLength(1);
    expect(JSON.parse(raw)).toMatchObject({ exchange: 'binance', stream: 'ticks', conn: 'c1' });
  });

  it('OnceLogger logs a key once', () => {
    const out = capture();
    const once = new OnceLogger(createLogger({ app: 't', destination: out.stream }));
    expect(once.warn('malformed', { preview: 'x' }, 'bad frame')).toBe(true);
    expect(once.warn('malformed', { preview: 'y' }, 'bad frame')).toBe(false);
    expect(once.warn('oversized', { preview: 'z' }, 'big frame')).toBe(true);
    expect(out.lines()).toHaveLength(2);
  });
});
