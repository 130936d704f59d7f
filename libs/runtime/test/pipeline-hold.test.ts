import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@cryptoflow/logger';
import { createRegistry } from '@cryptoflow/metrics';
import type { CanonicalRow, TradeRow } from '@cryptoflow/model';
import { ShardPipeline } from '../src/index.js';

function trade(symbol: string, ts: number): TradeRow {
  return {
    table: 'trades',
    exchange: 'binance',
    symbol,
    exchange_ts: ts,
    ingest_ts: ts,
    trade_ts: ts,
    trade_id: ts,
    first_trade_id: null,
    last_trade_id: null,
    price: 1,
    qty: 1,
    side: 'buy',
    trade_id_text: null,
  };
}

/** A pipeline whose frames are `symbol:ts` and whose rows pass a row filter the test steers. */
function pipelineWith(filter: (row: CanonicalRow) => boolean | 'hold') {
  const written: string[] = [];
  const registry = createRegistry({ app: 'test' });
  const pipeline = new ShardPipeline({
    app: 'test',
    exchange: 'binance',
    stream: 'ticks',
    shard: 0,
    settings: {
      raw_cap: 64,
      row_cap: 64,
      policy: 'wait',
      sample_every: 10,
      spill_dir: mkdtempSync(join(tmpdir(), 'cf-hold-')),
      warn_occupancy: 0.8,
    },
    createProcessor: (emit) => ({
      process: (frame) => {
        const [symbol, ts] = frame.data.split(':');
        emit(trade(symbol as string, Number(ts)));
      },
      finish: async () => undefined,
    }),
    consumers: [{ write: (row) => written.push(`${row.symbol}:${row.exchange_ts}`) }],
    rowFilter: filter,
    registry,
    logger: createLogger({ app: 'test', level: 'silent' }),
    wallClockTicks: false,
  });
  pipeline.start();
  const push = (data: string) => pipeline.push({ exchange: 'binance', connId: 'c', receivedAt: 0, data });
  return { pipeline, written, push, registry };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('ShardPipeline rows held for a handover decision', () => {
  it('holds rows past an unacknowledged cut in arrival order and writes or skips them once decided', async () => {
    let cut: number | null = null; // the acknowledged cut; null: proposal 10 only, not acknowledged
    const { pipeline, written, push } = pipelineWith((row) =>
      cut === null ? (row.exchange_ts < 10 ? false : 'hold') : row.exchange_ts >= cut,
    );
    for (const f of ['A:8', 'A:10', 'B:12', 'A:9', 'A:14']) await push(f);
    await settle();
    // A:9 is before the proposal but behind held rows: it waits in line too, so nothing overtakes.
    expect(written).toEqual([]);
    expect(pipeline.heldRows).toBe(4);
    cut = 12; // the old owner had already written up to 11
    pipeline.releaseHeld();
    expect(written).toEqual(['B:12', 'A:14']);
    expect(pipeline.heldRows).toBe(0);
    await push('A:15');
    await settle();
    expect(written).toEqual(['B:12', 'A:14', 'A:15']);
    await pipeline.finish();
  });

  it('rows still undecided when the shard stops are left to the old owner and counted', async () => {
    const { pipeline, written, push, registry } = pipelineWith(() => 'hold');
    await push('A:1');
    await push('A:2');
    await pipeline.finish();
    expect(written).toEqual([]);
    const metric = await registry.getSingleMetricAsString('rows_rejected_total');
    expect(metric).toMatch(/reason="handover_unacknowledged"[^\n]* 2/);
  });
});
