import { describe, expect, it } from 'vitest';
import { sigV4Signer } from '../../src/iceberg/index.js';

const url = new URL('https://s3tables.us-east-1.amazonaws.com/iceberg/v1/arn%3Aaws%3As3tables%3Aus-east-1%3A111122223333%3Abucket%2Flake/namespaces?pageToken=');
const date = new Date('2024-06-01T12:34:56Z');

describe('SigV4 for S3 Tables', () => {
  it('signs with service s3tables, the body hash and a scoped credential', async () => {
    const signer = sigV4Signer({ region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } });
    const body = '{"namespace":["market_data"]}';
    const h = await signer.sign({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body }, date);
    expect(h['x-amz-date']).toBe('20240601T123456Z');
    expect(h['host']).toBe('s3tables.us-east-1.amazonaws.com');
    expect(h['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(h['authorization']).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20240601\/us-east-1\/s3tables\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
    const again = await signer.sign({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body }, date);
    expect(again['authorization']).toBe(h['authorization']);
    const other = await signer.sign({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body: body + ' ' }, date);
    expect(other['authorization']).not.toBe(h['authorization']);
  });

  it('adds the session token of temporary credentials', async () => {
    const signer = sigV4Signer({ region: 'eu-west-1', credentials: async () => ({ accessKeyId: 'ASIA', secretAccessKey: 's', sessionToken: 'tok' }) });
    const h = await signer.sign({ method: 'GET', url, headers: {} }, date);
    expect(h['x-amz-security-token']).toBe('tok');
    expect(h['authorization']).toContain('/eu-west-1/s3tables/aws4_request');
    expect(h['authorization']).toContain('x-amz-security-token');
  });
});
