// CLI: tsx tools/fake-exchange/src/main.ts --venue binance --capture a.ws --capture a.http [--port 9440] [--speed max|N]
//      [--host 127.0.0.1] [--start-on listen|first-subscribe] [--ping-interval-ms N] [--depth recorded|live]
// Prints one JSON line {"wsUrl","restUrl","port","adminUrl"} on stdout when ready; SIGINT/SIGTERM close it.
import { parseArgs } from 'node:util';
import { FakeExchange } from './server.js';
import type { Venue } from './server.js';

function fail(msg: string): never {
  process.stderr.write(`fake-exchange: ${msg}\n`);
  process.exit(2);
}

let parsed: ReturnType<typeof parse>;
try {
  parsed = parse();
} catch (err) {
  fail((err as Error).message);
}
const { values } = parsed;

function parse() {
  return parseArgs({
    options: {
      venue: { type: 'string' },
      capture: { type: 'string', multiple: true },
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      speed: { type: 'string', default: '1' },
      'start-on': { type: 'string', default: 'first-subscribe' },
      'ping-interval-ms': { type: 'string' },
      depth: { type: 'string', default: 'recorded' },
    },
    strict: true,
  });
}

const errors: string[] = [];
const venue = values.venue;
if (venue !== 'binance' && venue !== 'binance-usdm')
  errors.push(`--venue: expected binance | binance-usdm, got ${String(venue)}`);
const captures = values.capture ?? [];
if (captures.length === 0) errors.push('--capture: at least one capture file');
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535)
  errors.push(`--port: expected 0..65535, got ${values.port}`);
const speed = values.speed === 'max' ? 'max' : Number(values.speed);
if (speed !== 'max' && !(speed > 0))
  errors.push(`--speed: expected max or a positive number, got ${values.speed}`);
const startOn = values['start-on'];
if (startOn !== 'listen' && startOn !== 'first-subscribe')
  errors.push(`--start-on: expected listen | first-subscribe, got ${startOn}`);
const ping = values['ping-interval-ms'] === undefined ? undefined : Number(values['ping-interval-ms']);
if (ping !== undefined && !(ping > 0)) errors.push(`--ping-interval-ms: expected > 0`);
const depth = values.depth;
if (depth !== 'recorded' && depth !== 'live') errors.push(`--depth: expected recorded | live, got ${depth}`);
if (errors.length > 0) fail(errors.join('\n'));

const fake = new FakeExchange({
  venue: venue as Venue,
  captures,
  host: values.host,
  port,
  speed,
  startOn: startOn as 'listen' | 'first-subscribe',
  depth: depth as 'recorded' | 'live',
  ...(ping === undefined ? {} : { pingIntervalMs: ping }),
});
const urls = await fake.listen();
process.stdout.write(`${JSON.stringify({ ...urls, adminUrl: `${urls.restUrl}/__admin` })}\n`);
void fake
  .whenFinished()
  .then(() =>
    process.stderr.write(`fake-exchange: timeline finished (${fake.stats().framesSent} frames sent)\n`),
  );
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void fake.close().then(() => process.exit(0));
  });
}
