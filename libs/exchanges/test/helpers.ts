import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';

export const REAL = '/work/shared/fixtures/real/cryptofeed-sample-data';
export const SPOT = [`${REAL}/BINANCE.ws.1.0`, `${REAL}/BINANCE.http.0.0`, `${REAL}/BINANCE.0`];
export const USDM = [
  `${REAL}/BINANCE_FUTURES.ws.1.0`,
  `${REAL}/BINANCE_FUTURES.http.0.0`,
  `${REAL}/BINANCE_FUTURES.0`,
];

export const logger = createLogger({ app: 'exchanges-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export async function metric(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  return values
    .filter((v) =>
      Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want),
    )
    .reduce((sum, v) => sum + v.value, 0);
}

export function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const t = setInterval(() => {
      if (cond()) {
        clearInterval(t);
        resolve();
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(t);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 5);
  });
}
