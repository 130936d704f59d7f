import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_TOTAL_SHARDS, isCfError } from '@cryptoflow/core';
import { channelSettingsFor, loadCollectorConfig, loadCommitterConfig } from '../src/index.js';

const base = {
  app: 'collector-ticks',
  stream: 'ticks',
  exchanges: {
    binance: { symbols: ['BTCUSDT'], ws_url: 'ws://127.0.0.1:1', rest_url: 'http://127.0.0.1:1' },
    'binance-usdm': { symbols: ['ETHUSDT'], ws_url: 'ws://127.0.0.1:2', rest_url: 'http://127.0.0.1:2' },
  },
};

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (isCfError(err, 'CF_CONFIG_INVALID')) return err.context['issues'] as string[];
    throw err;
  }
  throw new Error('expected a config error');
}

describe('collector config', () => {
  it('loads the local example with defaults filled in', () => {
    const cfg = loadCollectorConfig({ file: 'configs/local/collector-ticks.yaml' });
    expect(cfg.stream).toBe('ticks');
    expect(cfg.exchanges.binance?.symbols).toContain('NKNUSDT');
    expect(cfg.book.depth_cap).toBe(2000);
    expect(cfg.sink.target_file_bytes).toBe(134_217_728);
  });

  it('applies env then flags over the file, parsing values as YAML scalars', () => {
    const cfg = loadCollectorConfig({
      value: base,
      env: {
        CF_SINK__FLUSH_INTERVAL_MS: '1000',
        CF_EXCHANGES__BINANCE_USDM__SYMBOLS: '[BTCUSDT, SOLUSDT]',
        HOME: '/root',
        // not config: set by the image build and by tests
        CF_GIT_SHA: 'abc123',
        CF_VERSION: '1.2.3',
        CF_CRASH_ITERATIONS: '3',
      },
      argv: ['--sink.flush_interval_ms=250', '--set', 'kafka.enabled=false', '--sharding.total_shards=8'],
    });
    expect(cfg.sink.flush_interval_ms).toBe(250);
    expect(cfg.exchanges['binance-usdm']?.symbols).toEqual(['BTCUSDT', 'SOLUSDT']);
    expect(cfg.sharding.total_shards).toBe(8);
  });

  it('reports every error at once, each by path', () => {
    const issues = issuesOf(() =>
      loadCollectorConfig({
        value: {
          ...base,
          stream: 'funding',
          sharding: { replica_index: 3, replica_count: 2 },
          channels: {
            overrides: {
              binance: { spot_delta: { raw_cap: 5 } },
              'binance-usdm': { funding: { raw_cap: -1, policy: 'yolo' } },
            },
          },
          typo_key: true,
        },
      }),
    );
    const text = issues.join('\n');
    expect(text).toContain('channels.overrides.binance-usdm.funding.raw_cap');
    expect(text).toContain('channels.overrides.binance-usdm.funding.policy');
    expect(text).toMatch(/channels\.overrides\.binance: Unrecognized key: "spot_delta"/);
    expect(text).toContain('typo_key');
    expect(text).toMatch(/sharding\.replica_index: expected < replica_count \(2\), got 3/);
    expect(text).toMatch(/exchanges\.binance: stream funding takes derivatives markets; binance \(Binance spot, venue binance\) is a spot market/);
  });

  it('accepts total_shards up to the one shard limit and names it beyond', () => {
    expect(loadCollectorConfig({ value: { ...base, sharding: { total_shards: MAX_TOTAL_SHARDS } } }).sharding.total_shards).toBe(MAX_TOTAL_SHARDS);
    const issues = issuesOf(() => loadCollectorConfig({ value: { ...base, sharding: { total_shards: MAX_TOTAL_SHARDS + 1 } } }));
    expect(issues.join('\n')).toMatch(new RegExp(`sharding\\.total_shards: .*${MAX_TOTAL_SHARDS}`));
  });

  it('refuses a venue market without an adapter for the stream, naming venue and stream', () => {
    const market = { symbols: ['BTCUSDT'], ws_url: 'ws://127.0.0.1:3', rest_url: 'http://127.0.0.1:3' };
    const issues = issuesOf(() =>
      loadCollectorConfig({ value: { ...base, exchanges: { ...base.exchanges, 'bybit-linear': market, okx: market } } }),
    );
    expect(issues).toHaveLength(2);
    expect(issues.join('\n')).toMatch(
      /exchanges\.bybit-linear: venue bybit has no adapter for stream ticks on bybit-linear .*\(available for ticks: binance, binance-usdm\)/,
    );
    expect(issues.join('\n')).toMatch(/exchanges\.okx: venue okx has no adapter for stream ticks on okx/);
    // A spot market asked for a derivatives stream: the market kind is the reason, whatever the adapters.
    const spot = issuesOf(() => loadCollectorConfig({ value: { ...base, stream: 'futures-delta', exchanges: { bybit: market } } }));
    expect(spot.join('\n')).toMatch(/exchanges\.bybit: stream futures-delta takes derivatives markets; bybit .* is a spot market/);
    // An id the model does not know at all (tardis-dev's name for Bybit spot) is an unknown key.
    const unknown = issuesOf(() => loadCollectorConfig({ value: { ...base, exchanges: { 'bybit-spot': market } } }));
    expect(unknown.join('\n')).toContain('exchanges: Unrecognized key: "bybit-spot"');
  });

  it('names a YAML syntax error with its line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'app: x\nstream: ticks\n  bad: [\n');
    const issues = issuesOf(() => loadCollectorConfig({ file }));
    expect(issues[0]).toMatch(/^line \d+/);
  });

  it('rejects an s3 sink without its bucket, ledger and catalog', () => {
    const issues = issuesOf(() => loadCollectorConfig({ value: { ...base, sink: { kind: 's3' } } }));
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^sink\.s3: required/),
        expect.stringMatching(/^sink\.ledger: required/),
        expect.stringMatching(/^sink\.catalog: required/),
      ]),
    );
  });

  it('fleet.standby needs a dynamic fleet, the S3 sink and an event stream', () => {
    const issues = issuesOf(() =>
      loadCollectorConfig({
        value: { ...base, app: 'collector-spot-delta', stream: 'spot-delta', exchanges: { binance: base.exchanges.binance }, fleet: { standby: true } },
      }),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        'fleet.standby: needs fleet.mode dynamic',
        'fleet.standby: needs sink.kind s3: a takeover reads what the dead owner recorded in the lake',
        'fleet.standby: applies to event streams (ticks, liquidations, funding), not spot-delta: books resync from a REST snapshot',
      ]),
    );
    const ok = loadCollectorConfig({ value: { ...base, fleet: { mode: 'dynamic', table: 'cf-fleet' } } });
    expect(ok.fleet.standby).toBe(false);
  });

  it('resolves channel settings: defaults then per exchange+stream override', () => {
    const cfg = loadCollectorConfig({
      value: {
        ...base,
        channels: {
          defaults: { raw_cap: 100 },
          overrides: { 'binance-usdm': { ticks: { policy: 'spill' } } },
        },
      },
    });
    expect(channelSettingsFor(cfg, 'binance')).toMatchObject({ raw_cap: 100, policy: 'wait' });
    expect(channelSettingsFor(cfg, 'binance-usdm')).toMatchObject({ raw_cap: 100, policy: 'spill' });
  });

  it('validates the committer config', () => {
    const issues = issuesOf(() => loadCommitterConfig({ value: { tables: [], sink: { kind: 's3' } } }));
    expect(issues.join('\n')).toContain('tables');
  });
});
