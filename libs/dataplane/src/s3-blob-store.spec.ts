import { S3Client } from '@aws-sdk/client-s3';
import { blake3 } from '@artifactstore/codec';
import { S3BlobStore } from './s3-blob-store.js';

describe('S3BlobStore key layout (no server needed)', () => {
  it('fans blobs out under <prefix>blobs/<aa>/<bb>/ and stages under <prefix>staging/', () => {
    const store = new S3BlobStore({
      client: new S3Client({ region: 'us-east-1' }),
      bucket: 'b',
      prefix: 'p/',
    });
    const key = blake3('x').toString('hex');
    expect(store.objectKey(key)).toBe(`p/blobs/${key.slice(0, 2)}/${key.slice(2, 4)}/${key}`);
    expect(store.stagingPrefix).toBe('p/staging/');
    expect(store.backend).toBe('s3');
  });
});
