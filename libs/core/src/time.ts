/**
 * Timestamps in CryptoFlow are integer microseconds since the Unix epoch held in a JS number
 * (2^53 µs is year 2255, so a number is exact and cheaper than a bigint on the hot path).
 */
export type Micros = number;

const originMicros = Math.round(performance.timeOrigin * 1000);

/** Wall-clock now in microseconds; monotonic within the process (derived from performance.now()). */
export function nowMicros(): Micros {
  return originMicros + Math.floor(performance.now() * 1000);
}

export function msToMicros(ms: number): Micros {
  return Math.round(ms * 1000);
}

/** Seconds (float, as in recorded captures) to integer microseconds. */
export function secondsToMicros(seconds: number): Micros {
  return Math.round(seconds * 1_000_000);
}

export const MICROS_PER_HOUR = 3_600_000_000;

/** Start of the UTC hour containing `ts`. */
export function hourFloor(ts: Micros): Micros {
  return Math.floor(ts / MICROS_PER_HOUR) * MICROS_PER_HOUR;
}

/** `2024-01-31T13` — the hour a timestamp falls in, as used in object keys and partition paths. */
export function hourLabel(ts: Micros): string {
  return new Date(hourFloor(ts) / 1000).toISOString().slice(0, 13);
}

export interface Clock {
  nowMicros(): Micros;
}

export const systemClock: Clock = { nowMicros };

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
