// Parser for the cryptofeed capture format (see shared/fixtures/real/cryptofeed-sample-data/README.md):
//   `URL <-> T`        WebSocket opened at T (seconds since epoch, float)
//   `URL <- T: BODY`   frame the client sent
//   `T: BODY`          frame received on the connection opened above
//   `URL -> T: BODY`   REST GET answered at T
//   `configuration: {...}` recorder metadata (kept as 'meta', not replayed)
import { CfError, secondsToMicros } from '@cryptoflow/core';

export type CaptureRecord =
  | { readonly kind: 'ws-open'; readonly url: string; readonly at: number }
  | { readonly kind: 'ws-sent'; readonly url: string; readonly at: number; readonly data: string }
  | { readonly kind: 'ws-recv'; readonly url: string; readonly at: number; readonly data: string }
  | { readonly kind: 'http'; readonly url: string; readonly at: number; readonly body: string }
  | { readonly kind: 'meta'; readonly key: string; readonly value: string };

const WS_OPEN = /^(\S+) <-> (\d+(?:\.\d+)?)$/;
const WS_SENT = /^(\S+) <- (\d+(?:\.\d+)?): (.*)$/;
const HTTP = /^(\S+) -> (\d+(?:\.\d+)?): (.*)$/;
const WS_RECV = /^(\d+(?:\.\d+)?): (.*)$/;
const META = /^([A-Za-z_]+): (.*)$/;

/** Parses a capture file; times become integer µs. Fails on the first line it cannot read, naming it. */
export function parseCapture(text: string, source = '<capture>'): CaptureRecord[] {
  const out: CaptureRecord[] = [];
  let url: string | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line === '') continue;
    let m: RegExpExecArray | null;
    if ((m = WS_RECV.exec(line))) {
      if (url === undefined) throw bad(source, i, line, 'received frame before any `URL <-> T` line');
      out.push({ kind: 'ws-recv', url, at: secondsToMicros(Number(m[1])), data: m[2]! });
    } else if ((m = WS_OPEN.exec(line))) {
      // The recorder sometimes writes the open line twice; one open is one record.
      const at = secondsToMicros(Number(m[2]));
      const prev = out[out.length - 1];
      url = m[1]!;
      if (!(prev?.kind === 'ws-open' && prev.url === url && prev.at === at))
        out.push({ kind: 'ws-open', url, at });
    } else if ((m = WS_SENT.exec(line))) {
      out.push({ kind: 'ws-sent', url: m[1]!, at: secondsToMicros(Number(m[2])), data: m[3]! });
    } else if ((m = HTTP.exec(line))) {
      out.push({ kind: 'http', url: m[1]!, at: secondsToMicros(Number(m[2])), body: m[3]! });
    } else if ((m = META.exec(line))) {
      out.push({ kind: 'meta', key: m[1]!, value: m[2]! });
    } else {
      throw bad(source, i, line, 'unrecognised line');
    }
  }
  return out;
}

function bad(source: string, index: number, line: string, why: string): CfError {
  return new CfError('CF_FRAME_MALFORMED', `${source}:${index + 1}: ${why}: ${line.slice(0, 120)}`, {
    context: { source, line: index + 1 },
  });
}

/** `{"stream":"x","data":{...}}` → stream name and the exact text of `data` (no re-serialisation). */
export function splitCombined(body: string): { stream: string; data: string } | undefined {
  const m = /^\{"stream":"([^"]+)","data":/.exec(body);
  if (m && body.endsWith('}')) return { stream: m[1]!, data: body.slice(m[0].length, -1) };
  try {
    const parsed = JSON.parse(body) as { stream?: unknown; data?: unknown };
    if (typeof parsed.stream === 'string' && parsed.data !== undefined)
      return { stream: parsed.stream, data: JSON.stringify(parsed.data) };
  } catch {
    /* not JSON: not a combined frame */
  }
  return undefined;
}

/** Formats µs as the capture's seconds with 6 decimals. */
export function formatCaptureTime(atMicros: number): string {
  const s = Math.floor(atMicros / 1_000_000);
  const frac = String(atMicros - s * 1_000_000).padStart(6, '0');
  return `${s}.${frac}`;
}
