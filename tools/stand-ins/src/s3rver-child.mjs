// Runs s3rver in its own Node process, started with --openssl-legacy-provider: s3rver encrypts
// ListObjects continuation tokens with DES, which OpenSSL 3 only offers through the legacy provider.
// Prints {"port":N} once listening; exits when stdin closes so it never outlives its parent.
import S3rver from 's3rver';

const [directory, portArg, bucketsArg] = process.argv.slice(2);
const server = new S3rver({
  port: Number(portArg ?? 0),
  address: '127.0.0.1',
  silent: true,
  directory,
  configureBuckets: (bucketsArg ? bucketsArg.split(',') : []).filter(Boolean).map((name) => ({ name })),
});
const address = await server.run();
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
const stop = () => server.close().finally(() => process.exit(0));
process.stdin.on('end', stop).resume();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
