import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { CfError } from '@cryptoflow/core';
import type { ObjectStore } from './types.js';

export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3a?:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m) throw new CfError('CF_S3', `not an s3:// object location: ${uri}`);
  return { bucket: m[1]!, key: m[2]! };
}

/** Plain PutObject/GetObject store for Iceberg metadata files (manifests are small: no multipart). */
export function s3ObjectStore(client: S3Client): ObjectStore {
  return {
    async put(location, bytes) {
      const { bucket, key } = parseS3Uri(location);
      try {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: 'application/octet-stream' }));
      } catch (err) {
        throw new CfError('CF_S3', `put ${location}: ${(err as Error).message}`, { retriable: true, cause: err, context: { location } });
      }
      return location;
    },
    async get(location) {
      const { bucket, key } = parseS3Uri(location);
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!res.Body) throw new Error('empty body');
        return await res.Body.transformToByteArray();
      } catch (err) {
        throw new CfError('CF_S3', `get ${location}: ${(err as Error).message}`, { retriable: true, cause: err, context: { location } });
      }
    },
  };
}
