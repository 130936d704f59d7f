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

  it('OnceLogger logs a key once', () => {
    const out = capture();
    const once = new OnceLogger(createLogger({ app: 't', destination: out.stream }));
    expect(once.warn('malformed', { preview: 'x' }, 'bad frame')).toBe(true);
    expect(once.warn('malformed', { preview: 'y' }, 'bad frame')).toBe(false);
    expect(once.warn('oversized', { preview: 'z' }, 'big frame')).toBe(true);
    expect(out.lines()).toHaveLength(2);
  });
});
