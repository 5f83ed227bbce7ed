import { randomBytes } from 'node:crypto';
import { UnreferencedBlobs } from '@artifactstore/registry';
import { startCore, type CoreHarness } from '../support/app-harness.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

const ACTOR = 'alice';
const NEW_PACKAGE = { name: 'app', producer: 'ci', subject: 'git:1', retention_class: 'standard' };

describe.each(dialectsUnderTest())('UnreferencedBlobs on $dialect', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let core: CoreHarness;
  let closed: boolean;

  beforeEach(async () => {
    testDatabase = await dialectUnderTest.create();
    core = await startCore(testDatabase);
    closed = false;
  });

  afterEach(async () => {
    if (!closed) await core.close();
    await testDatabase.dispose();
  });

  it('counts the blobs no file refers to, over more keys than one query checks', async () => {
    const unreferenced = core.app.get(UnreferencedBlobs);
    expect(unreferenced.lastScan).toBeUndefined();
    const pkg = await core.registry.createPackage(NEW_PACKAGE, ACTOR);
    const shared = randomBytes(300);
    await core.registry.ingestFile(pkg.id, 'a.bin', undefined, [shared], ACTOR);
    await core.registry.ingestFile(pkg.id, 'b.bin', undefined, [randomBytes(700)], ACTOR);
    // Blobs stored without a file, as a crash between an ingest's write and its commit leaves them; more than
    // one batch of 500, with the referenced keys somewhere among them.
    let bytes = 0;
    for (let i = 0; i < 503; i++) {
      const blob = randomBytes(16 + (i % 7));
      bytes += blob.length;
      await core.blobStore.ingest([blob]);
    }
    // The same bytes as a file's are that file's blob.
    await core.blobStore.ingest([shared]);
    const before = Date.now();
    const scan = await unreferenced.scan();
    expect(scan).toEqual({ blobs: 503, bytes, finishedAt: expect.any(Number) as number });
    expect(scan.finishedAt).toBeGreaterThanOrEqual(before);
    expect(unreferenced.lastScan).toBe(scan);
  });

  it('reports none in an empty store', async () => {
    await expect(core.app.get(UnreferencedBlobs).scan()).resolves.toMatchObject({ blobs: 0, bytes: 0 });
  });

  it('stops a background scan when the app closes, before the database does', async () => {
    for (let i = 0; i < 20; i++) await core.blobStore.ingest([randomBytes(10)]);
    const unreferenced = core.app.get(UnreferencedBlobs);
    unreferenced.scanInBackground();
    await core.close();
    closed = true;
    // Finished before the close, or stopped at a batch: never a count made up of a half scan.
    expect(unreferenced.lastScan?.blobs ?? 20).toBe(20);
  });
});
