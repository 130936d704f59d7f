/**
 * SigV4 for the S3 Tables Iceberg REST endpoint (service `s3tables`). The AWS docs for S3 Tables'
 * Iceberg REST endpoint: https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-tables-integrating-open-source.html
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

export type CredentialsInput = AwsCredentialIdentity | AwsCredentialIdentityProvider;

export interface RequestToSign {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface RequestSigner {
  /** Headers to send: the input headers plus host, x-amz-date, x-amz-content-sha256, authorization (and x-amz-security-token). */
  sign(req: RequestToSign, signingDate?: Date): Promise<Record<string, string>>;
}

export function sigV4Signer(options: { region: string; credentials: CredentialsInput; service?: string }): RequestSigner {
  const signer = new SignatureV4({
    service: options.service ?? 's3tables',
    region: options.region,
    credentials: options.credentials,
    sha256: Sha256,
  });
  return {
    async sign(req, signingDate) {
      const query: Record<string, string | string[]> = {};
      for (const [k, v] of req.url.searchParams) {
        const prev = query[k];
        query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
      }
      const bodyHash = Buffer.from(await hash(req.body ?? '')).toString('hex');
      const signed = await signer.sign(
        {
          method: req.method,
          protocol: req.url.protocol,
          hostname: req.url.hostname,
          port: req.url.port ? Number(req.url.port) : undefined,
          // The path as sent on the wire (already percent-encoded); the signer escapes it once more, as AWS expects.
          path: req.url.pathname,
          query,
          headers: { ...req.headers, host: req.url.host, 'x-amz-content-sha256': bodyHash },
          body: req.body,
        },
        signingDate ? { signingDate } : {},
      );
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(signed.headers)) out[k] = String(v);
      return out;
    },
  };
}

async function hash(text: string): Promise<Uint8Array> {
  const h = new Sha256();
  h.update(text);
  return h.digest();
}
