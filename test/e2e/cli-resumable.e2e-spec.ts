import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { runCli } from '../support/cli-runner.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

describe.each(dialectsUnderTest())('push --resumable-above on $dialect', (dialectUnderTest) => {
  let database: TestDatabase;
  let api: ApiHarness;
  let work: string;

  beforeAll(async () => {
    database = await dialectUnderTest.create();
    api = await startApi(database);
    work = await mkdtemp(join(tmpdir(), 'artifactstore-cli-resumable-'));
  });

  afterAll(async () => {
    await api.close();
    await database.dispose();
    await rm(work, { recursive: true, force: true });
  });

  /** How many requests the server counted on the tus creation route. */
  const tusCreations = async (): Promise<number> => {
    const metrics = (await api.http().get('/metrics').expect(200)).text;
    const route =
      /^artifactstore_http_requests_total\{method="POST",route="\/v1\/packages\/:id\/uploads",[^}]*\} (\d+)$/gm;
    return [...metrics.matchAll(route)]
      .map((match) => Number(match[1]))
      .reduce((sum, count) => sum + count, 0);
  };

  it('sends files above the threshold by tus and the rest by PUT, and the package pulls back byte for byte', async () => {
    const source = join(work, 'tree');
    await mkdir(source, { recursive: true });
    const big = randomBytes(300 * 1024);
    const small = randomBytes(512);
    await writeFile(join(source, 'big.bin'), big);
    await writeFile(join(source, 'small.bin'), small);
    const before = await tusCreations();
    const env = { ARTIFACTSTORE_URL: api.url };
    const push = await runCli(
      [
        'push',
        source,
        '--name',
        'r',
        '--producer',
        'ci',
        '--subject',
        's',
        '--retention',
        'standard',
        '--resumable-above',
        '64KiB',
      ],
      env,
    );
    expect(push.stderr).not.toMatch(/^artifactstore: [a-z_]+: /m);
    expect(push.code).toBe(0);
    expect((await tusCreations()) - before).toBe(1);
    const copy = join(work, 'copy');
    const pull = await runCli(['pull', push.stdout.trim(), copy], env);
    expect(pull.code).toBe(0);
    expect(await readFile(join(copy, 'big.bin'))).toEqual(big);
    expect(await readFile(join(copy, 'small.bin'))).toEqual(small);
  });

  it('refuses a threshold that is not a size', async () => {
    const run = await runCli(['push', work, '--resumable-above', 'lots'], { ARTIFACTSTORE_URL: api.url });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/not a size/);
  });
});
