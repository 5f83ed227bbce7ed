import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { blake3, sha256 } from '@artifactstore/codec';
import { uploadResumably, type ResumableSource } from './resumable-upload.js';
import { startApi, type ApiHarness } from '../../../test/support/api-harness.js';
import { binary, createPackage } from '../../../test/support/http-helpers.js';
import { createScratchSqlite, type ScratchDatabase } from '../../../test/support/scratch-database.js';
import { CuttingProxy } from '../../../test/support/tus-client.js';

const MiB = 1 << 20;

function sourceOf(bytes: Buffer, relativePath: string): ResumableSource {
  return {
    relativePath,
    mediaType: 'application/x-test',
    size: bytes.length,
    sha256: sha256(bytes).toString('hex'),
    blake3: blake3(bytes).toString('hex'),
    open: () => Readable.from([bytes]),
    openFrom: (offset) => {
      const rest = bytes.subarray(offset);
      const chunks: Buffer[] = [];
      for (let at = 0; at < rest.length; at += 256 * 1024) chunks.push(rest.subarray(at, at + 256 * 1024));
      return Readable.from(chunks);
    },
  };
}

/**
 * The CLI's resumable upload (for push --resumable-above) against the real server in this process, through a network
 * that breaks.
 */
describe('the CLI resumable upload', () => {
  let scratch: ScratchDatabase;
  let api: ApiHarness;

  beforeAll(async () => {
    scratch = await createScratchSqlite();
    api = await startApi(scratch);
  });

  afterAll(async () => {
    await api.close();
    await scratch.dispose();
  });

  it('continues from the server offset after the connection breaks mid-chunk, and gets the file record', async () => {
    const { id } = await createPackage(api);
    const bytes = randomBytes(13 * MiB + 99);
    const proxy = await CuttingProxy.start(api.url, 9 * MiB + 4321);
    try {
      const file = await uploadResumably(id, sourceOf(bytes, 'big/data.bin'), {
        url: proxy.url,
        chunkSize: 4 * MiB,
        retryDelayMs: 10,
      });
      expect(proxy.cuts).toBe(1);
      expect(file).toMatchObject({
        relative_path: 'big/data.bin',
        size: bytes.length,
        blake3: blake3(bytes).toString('hex'),
        media_type: 'application/x-test',
      });
    } finally {
      await proxy.close();
    }
    const downloaded = await api
      .http()
      .get(`/v1/packages/${id}/files/big/data.bin`)
      .buffer(true)
      .parse(binary);
    expect((downloaded.body as Buffer).equals(bytes)).toBe(true);
  });

  it('fails with the problem code of a refusal that resuming cannot fix', async () => {
    const { id } = await createPackage(api);
    const bytes = randomBytes(1000);
    await uploadResumably(id, sourceOf(bytes, 'once.bin'), { url: api.url });
    await expect(uploadResumably(id, sourceOf(bytes, 'once.bin'), { url: api.url })).rejects.toMatchObject({
      code: 'duplicate_relative_path',
    });
  });
});
