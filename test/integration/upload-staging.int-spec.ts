import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlobStore, FsUploadStaging, openS3UploadStaging } from '@artifactstore/dataplane';
import { describeUploadStaging } from '../support/describe-upload-staging.js';
import { makeTestS3Store, testS3Connection } from '../support/test-s3.js';

describeUploadStaging('FsUploadStaging', async () => {
  const root = await mkdtemp(join(tmpdir(), 'artifactstore-uploads-'));
  const store = new FsBlobStore(root);
  await store.init();
  return {
    store,
    staging: new FsUploadStaging(store, root),
    leftovers: async () => (await readdir(join(root, 'tmp'))).map((name) => join(root, 'tmp', name)),
    dispose: () => rm(root, { recursive: true, force: true }),
  };
});

const connection = testS3Connection();
if (connection) {
  describeUploadStaging('S3UploadStaging', async () => {
    const subject = await makeTestS3Store(connection);
    return {
      store: subject.store,
      staging: await openS3UploadStaging(subject.store, {
        bucket: connection.bucket,
        prefix: subject.prefix,
      }),
      leftovers: () => subject.leftovers(),
      dispose: () => subject.dispose(),
    };
  });
}
