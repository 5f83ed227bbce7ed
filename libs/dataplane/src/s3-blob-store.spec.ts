import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
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

describe('S3BlobStore listing (a stand-in client)', () => {
  it('lists blobs with their sizes and dates page by page under <prefix>blobs/, skipping other objects', async () => {
    const a = blake3('a').toString('hex');
    const b = blake3('b').toString('hex');
    const aModified = new Date('2024-05-01T10:00:00Z');
    const bModified = new Date('2024-05-02T11:30:00Z');
    const pages = [
      {
        Contents: [
          { Key: `p/blobs/${a.slice(0, 2)}/${a.slice(2, 4)}/${a}`, Size: 1, LastModified: aModified },
          { Key: 'p/blobs/README', Size: 9, LastModified: aModified },
        ],
        IsTruncated: true,
        NextContinuationToken: 'next',
      },
      {
        Contents: [
          { Key: `p/blobs/${b.slice(0, 2)}/${b.slice(2, 4)}/${b}`, Size: 0, LastModified: bModified },
        ],
        IsTruncated: false,
      },
    ];
    const asked: unknown[] = [];
    const client = {
      send: (command: unknown) => {
        if (!(command instanceof ListObjectsV2Command)) throw new Error('unexpected command');
        asked.push(command.input);
        return Promise.resolve(pages[asked.length - 1]);
      },
    } as unknown as S3Client;
    const store = new S3BlobStore({ client, bucket: 'b', prefix: 'p/' });
    const listed = [];
    for await (const blob of store.listWithSizes()) listed.push(blob);
    expect(listed).toEqual([
      { key: a, size: 1, modifiedAt: aModified.getTime() },
      { key: b, size: 0, modifiedAt: bModified.getTime() },
    ]);
    expect(asked).toEqual([
      { Bucket: 'b', Prefix: 'p/blobs/', ContinuationToken: undefined },
      { Bucket: 'b', Prefix: 'p/blobs/', ContinuationToken: 'next' },
    ]);
  });
});
