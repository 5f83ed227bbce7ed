import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { digestTree, runCli, type CliRun } from '../support/cli-runner.js';
import { createPackage } from '../support/http-helpers.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';
import { tokensJson } from '../support/tokens-file.js';

const TOKENS = { reader: 'tags-reader-secret', producer: 'tags-producer-secret', admin: 'tags-admin-secret' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface PushJson {
  package_id: string;
  content_address: string;
  tags: string[];
}

interface TagJson {
  name: string;
  tag: string;
  package: { id: string; content_address: string | null };
  moved_at: string;
  moved_by: string;
}

interface TagMoveJson {
  sequence: number;
  event_type: string;
  package_id: string | null;
  previous_package_id: string | null;
  at: string;
  by: string;
}

interface EventJson {
  event_type: string;
  subject_id: string;
  payload: Record<string, unknown>;
}

/** Exit `status` and exactly one error line, `artifactstore: <code>: <detail>`, on stderr; nothing on stdout. */
function expectFailure(run: CliRun, status: number, code: string): void {
  const errors = run.stderr.split('\n').filter((line) => /^artifactstore: [a-z_]+: /.test(line));
  expect({ status: run.code, errors: errors.length, stdout: run.stdout }).toEqual({
    status,
    errors: 1,
    stdout: '',
  });
  expect(errors[0]).toMatch(new RegExp(`^artifactstore: ${code}: \\S`));
}

function expectDone(run: CliRun): void {
  expect(run.stderr).not.toMatch(/^artifactstore: [a-z_]+: /m);
  expect(run.code).toBe(0);
}

describe.each(dialectsUnderTest())('artifactstore CLI tags on $dialect', (dialectUnderTest) => {
  let database: TestDatabase;
  let api: ApiHarness;
  let work: string;
  let url: string;
  const as = (role: keyof typeof TOKENS): Record<string, string> => ({
    ARTIFACTSTORE_URL: url,
    ARTIFACTSTORE_TOKEN: TOKENS[role],
  });
  /** A fresh package name, with a `/` so that it must travel as one percent-encoded path segment. */
  const freshName = (): string => `web/ui-${randomBytes(4).toString('hex')}`;

  /** Pushes a small tree of random bytes under `name` with `--json` and `extra` flags: the tree and the result. */
  const push = async (
    name: string,
    extra: string[] = [],
    env: Record<string, string> = as('producer'),
  ): Promise<{ source: string; run: CliRun; result: PushJson }> => {
    const source = join(work, `tree-${randomBytes(4).toString('hex')}`);
    await mkdir(join(source, 'lib'), { recursive: true });
    await writeFile(join(source, 'lib', 'a.bin'), randomBytes(4096));
    await writeFile(join(source, 'b.txt'), `${randomBytes(8).toString('hex')}\n`);
    const run = await runCli(
      [
        'push',
        source,
        '--name',
        name,
        '--producer',
        'ci',
        '--subject',
        'git:1',
        '--retention',
        'standard',
        '--json',
        ...extra,
      ],
      env,
    );
    expectDone(run);
    return { source, run, result: JSON.parse(run.stdout) as PushJson };
  };

  /** `history <ref> --json`, from the server or, with `local`'s environment, with `--local`. */
  const history = async (ref: string, local?: Record<string, string>): Promise<TagMoveJson[]> => {
    const run = await runCli(
      [...(local ? ['--local'] : []), 'history', ref, '--json'],
      local ?? as('reader'),
    );
    expectDone(run);
    return JSON.parse(run.stdout) as TagMoveJson[];
  };

  const localEnv = (): Record<string, string> => {
    const target = database.config.database;
    return {
      ARTIFACTSTORE_DATA_DIR: database.config.dataDir,
      ...(target.dialect === 'postgres' ? { ARTIFACTSTORE_DATABASE_URL: target.url } : {}),
      ARTIFACTSTORE_IMMUTABLE_TAGS: 'release-*',
      ARTIFACTSTORE_URL: 'http://127.0.0.1:1',
    };
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'artifactstore-cli-tags-'));
    const tokensFile = join(work, 'tokens.json');
    await writeFile(tokensFile, tokensJson(TOKENS));
    database = await dialectUnderTest.create({
      ARTIFACTSTORE_TOKENS_FILE: tokensFile,
      ARTIFACTSTORE_GC_INTERVAL_SECONDS: '0',
      ARTIFACTSTORE_IMMUTABLE_TAGS: 'release-*',
    });
    api = await startApi(database);
    url = api.url;
  });

  afterAll(async () => {
    await api.close();
    await database.dispose();
    await rm(work, { recursive: true, force: true });
  });

  it('push --tag tags the finalized package; a second push moves the tag, and history shows both moves', async () => {
    const name = freshName();
    const first = await push(name, ['--tag', 'stable', '--tag', 'candidate']);
    expect(first.result.tags).toEqual([`${name}:stable`, `${name}:candidate`]);
    expect(first.run.stderr).toContain(`artifactstore: tagged ${name}:stable → ${first.result.package_id}\n`);

    const second = await push(name, ['--tag', 'stable']);
    expect(second.result.tags).toEqual([`${name}:stable`]);
    expect(second.run.stderr).toContain(
      `artifactstore: moved ${name}:stable → ${second.result.package_id}\n`,
    );

    const moves = await history(`${name}:stable`);
    expect(moves).toEqual([
      expect.objectContaining({
        event_type: 'v1.tag.moved',
        package_id: second.result.package_id,
        previous_package_id: first.result.package_id,
        by: 'producer-bot',
      }),
      expect.objectContaining({
        event_type: 'v1.tag.moved',
        package_id: first.result.package_id,
        previous_package_id: null,
        by: 'producer-bot',
      }),
    ]);
    expect(moves[0]?.sequence).toBeGreaterThan(moves[1]?.sequence ?? Infinity);

    const human = await runCli(['history', `${name}:stable`], as('reader'));
    expectDone(human);
    expect(human.stdout.split('\n')).toEqual([
      `${moves[0]?.sequence}  ${moves[0]?.at}  producer-bot  moved to ${second.result.package_id} from ${first.result.package_id}`,
      `${moves[1]?.sequence}  ${moves[1]?.at}  producer-bot  moved to ${first.result.package_id} (new)`,
      '',
    ]);

    // A human push prints the address alone on stdout, the tags on stderr.
    const third = await runCli(
      [
        'push',
        first.source,
        '--name',
        name,
        '--producer',
        'ci',
        '--subject',
        'git:2',
        '--retention',
        'standard',
        '--tag',
        'candidate',
      ],
      as('producer'),
    );
    expectDone(third);
    expect(third.stdout).toMatch(/^blake3:[0-9a-f]{64}\n$/);
    expect(third.stderr).toMatch(
      new RegExp(`^artifactstore: moved ${name}:candidate → ${UUID.source.slice(1, -1)}$`, 'm'),
    );
  });

  it('pulls, shows, prints the manifest of and verifies a package by <name>:<tag>, a name with a / included', async () => {
    const name = freshName();
    const { source, result } = await push(name, ['--tag', 'stable']);
    const ref = `${name}:stable`;

    const target = join(work, `pulled-${randomBytes(4).toString('hex')}`);
    const pulled = await runCli(['pull', ref, target, '--json'], as('reader'));
    expectDone(pulled);
    expect(JSON.parse(pulled.stdout)).toMatchObject({
      package_id: result.package_id,
      content_address: result.content_address,
      files: 2,
    });
    expect(await digestTree(target)).toEqual(await digestTree(source));

    const shown = await runCli(['show', ref, '--json'], as('reader'));
    expectDone(shown);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: result.package_id, name, status: 'finalized' });

    const manifest = await runCli(['manifest', ref, '--json'], as('reader'));
    expectDone(manifest);
    expect(JSON.parse(manifest.stdout)).toMatchObject({ package: { id: result.package_id, name } });
    const saved = join(work, `m-${randomBytes(4).toString('hex')}.cbor`);
    expectDone(await runCli(['manifest', ref, '--out', saved], as('reader')));

    const verified = await runCli(['verify', target, ref], as('reader'));
    expectDone(verified);
    expect(verified.stdout).toBe(`${target} matches ${result.content_address} (2 files)\n`);
    expectDone(await runCli(['verify', target, ref, '--manifest', saved], as('reader')));

    // The tag moves on: the saved manifest is no longer the one it names.
    await push(name, ['--tag', 'stable']);
    expectFailure(
      await runCli(['verify', target, ref, '--manifest', saved], as('reader')),
      4,
      'manifest_mismatch',
    );
    const differs = await runCli(['verify', target, ref], as('reader'));
    expect(differs.code).toBe(4);
    expect(differs.stderr).toMatch(/^artifactstore: verify_failed: /m);
    expectDone(await runCli(['verify', target, result.content_address], as('reader')));

    expectFailure(await runCli(['show', `${name}:nope`], as('reader')), 2, 'tag_not_found');
    expectFailure(
      await runCli(['pull', `${name}:nope`, join(work, 'never')], as('reader')),
      2,
      'tag_not_found',
    );
    expectFailure(await runCli(['show', `${name}:.bad`], as('reader')), 1, 'invalid_input');
    expectFailure(await runCli(['show', 'blake3:abc'], as('reader')), 1, 'invalid_input');
  });

  it('tag moves a tag by id, address or another tag; refuses a package of another name, a draft, an immutable tag', async () => {
    const name = freshName();
    const one = (await push(name)).result;
    const two = (await push(name)).result;

    const tagged = await runCli(['tag', one.content_address, `${name}:stable`], as('producer'));
    expectDone(tagged);
    expect(tagged.stdout).toBe(`tagged ${name}:stable → ${one.package_id} (${one.content_address})\n`);
    const moved = await runCli(['tag', two.package_id, `${name}:stable`, '--json'], as('producer'));
    expectDone(moved);
    expect(JSON.parse(moved.stdout)).toMatchObject({
      name,
      tag: 'stable',
      package: { id: two.package_id },
      moved_by: 'producer-bot',
      created: false,
    });
    // Promote: a tag as the reference.
    expectDone(await runCli(['tag', `${name}:stable`, `${name}:prod`], as('producer')));
    const prod = await runCli(['show', `${name}:prod`, '--json'], as('reader'));
    expect((JSON.parse(prod.stdout) as { id: string }).id).toBe(two.package_id);

    const other = (await push(freshName())).result;
    expectFailure(
      await runCli(['tag', other.package_id, `${name}:stable`], as('producer')),
      3,
      'tag_name_mismatch',
    );
    const draft = await createPackage(api, { name }, TOKENS.producer);
    expectFailure(
      await runCli(['tag', draft.id, `${name}:stable`], as('producer')),
      3,
      'illegal_package_state',
    );
    expectFailure(await runCli(['tag', one.package_id, `${name}:stable`], as('reader')), 5, 'forbidden');
    expectFailure(await runCli(['tag', one.package_id, name], as('producer')), 1, 'usage');

    expectDone(await runCli(['tag', one.package_id, `${name}:release-1`], as('producer')));
    expectFailure(
      await runCli(['tag', two.package_id, `${name}:release-1`], as('admin')),
      3,
      'tag_immutable',
    );
    expectFailure(await runCli(['untag', `${name}:release-1`], as('admin')), 3, 'tag_immutable');
    // A tag that would fail is refused before a byte is uploaded.
    const refused = await runCli(
      [
        'push',
        work,
        '--name',
        name,
        '--producer',
        'ci',
        '--subject',
        's',
        '--retention',
        'standard',
        '--tag=.x',
      ],
      as('producer'),
    );
    expectFailure(refused, 1, 'invalid_input');
    expect(refused.stderr).not.toMatch(/created/);
  });

  it('tags lists where each tag points; untag (admin) removes one and history records it', async () => {
    const name = freshName();
    const { result } = await push(name, ['--tag', 'beta', '--tag', 'alpha']);

    const listed = await runCli(['tags', name, '--json'], as('reader'));
    expectDone(listed);
    const tags = JSON.parse(listed.stdout) as TagJson[];
    expect(tags.map((tag) => [tag.tag, tag.package.id, tag.package.content_address, tag.moved_by])).toEqual([
      ['alpha', result.package_id, result.content_address, 'producer-bot'],
      ['beta', result.package_id, result.content_address, 'producer-bot'],
    ]);
    const human = await runCli(['tags', name], as('reader'));
    expectDone(human);
    expect(human.stdout).toBe(
      tags
        .map(
          (tag) =>
            `${tag.tag.padEnd(5)}  ${result.package_id}  ${result.content_address}  ${tag.moved_at}  producer-bot\n`,
        )
        .join(''),
    );

    expectFailure(await runCli(['untag', `${name}:beta`], as('producer')), 5, 'forbidden');
    const removed = await runCli(['untag', `${name}:beta`], as('admin'));
    expectDone(removed);
    expect(removed.stdout).toBe(`untagged ${name}:beta\n`);
    expectFailure(await runCli(['untag', `${name}:beta`, '--json'], as('admin')), 2, 'tag_not_found');
    expectFailure(await runCli(['show', `${name}:beta`], as('reader')), 2, 'tag_not_found');
    expect((await history(`${name}:beta`))[0]).toMatchObject({
      event_type: 'v1.tag.deleted',
      package_id: null,
      previous_package_id: result.package_id,
      by: 'admin-bot',
    });
    const after = await runCli(['tags', name, '--json'], as('reader'));
    expect((JSON.parse(after.stdout) as TagJson[]).map((tag) => tag.tag)).toEqual(['alpha']);
    const none = await runCli(['tags', freshName()], as('reader'));
    expectDone(none);
    expect(none.stdout).toBe('');
  });

  it('tag, tags, history and untag work the same with --local, as the admin local', async () => {
    const name = freshName();
    const { result } = await push(name);
    const local = localEnv();

    const tagged = await runCli(['--local', 'tag', result.package_id, `${name}:stable`, '--json'], local);
    expectDone(tagged);
    expect(JSON.parse(tagged.stdout)).toMatchObject({
      package: { id: result.package_id },
      moved_by: 'local',
      created: true,
    });
    const listed = await runCli(['--local', 'tags', name, '--json'], local);
    expectDone(listed);
    expect((JSON.parse(listed.stdout) as TagJson[]).map((tag) => [tag.tag, tag.package.id])).toEqual([
      ['stable', result.package_id],
    ]);
    expectDone(await runCli(['--local', 'untag', `${name}:stable`], local));
    expect(await history(`${name}:stable`, local)).toEqual([
      expect.objectContaining({ event_type: 'v1.tag.deleted', by: 'local' }),
      expect.objectContaining({ event_type: 'v1.tag.moved', package_id: result.package_id, by: 'local' }),
    ]);
    expectFailure(await runCli(['--local', 'show', `${name}:stable`], local), 2, 'tag_not_found');

    const pushed = await push(name, ['--local', '--tag', 'stable'], local);
    expect(pushed.result.tags).toEqual([`${name}:stable`]);
    const shown = await runCli(['show', `${name}:stable`, '--json'], as('reader'));
    expect((JSON.parse(shown.stdout) as { id: string }).id).toBe(pushed.result.package_id);
    expectDone(await runCli(['--local', 'tag', result.package_id, `${name}:release-1`], local));
    expectFailure(
      await runCli(['--local', 'tag', `${name}:stable`, `${name}:release-1`], local),
      3,
      'tag_immutable',
    );
  });

  it("sends one Idempotency-Key with push's create: the same create again answers the same package", async () => {
    const name = freshName();
    const { result } = await push(name);
    const events = await api
      .http()
      .get('/v1/events?since=0&limit=1000')
      .set('Authorization', `Bearer ${TOKENS.reader}`)
      .expect(200);
    const created = (events.body as { events: EventJson[] }).events.find(
      (event) => event.event_type === 'v1.package.created' && event.subject_id === result.package_id,
    );
    const key = created?.payload.idempotency_key;
    expect(key).toEqual(expect.stringMatching(UUID));

    const body = { name, producer: 'ci', subject: 'git:1', retention_class: 'standard', metadata: {} };
    const again = await api
      .http()
      .post('/v1/packages')
      .set('Authorization', `Bearer ${TOKENS.producer}`)
      .set('Idempotency-Key', String(key))
      .send(body)
      .expect(200);
    expect(again.body).toMatchObject({ id: result.package_id, status: 'finalized' });
    await api
      .http()
      .post('/v1/packages')
      .set('Authorization', `Bearer ${TOKENS.producer}`)
      .set('Idempotency-Key', String(key))
      .send({ ...body, subject: 'git:2' })
      .expect(422);

    // Each push its own key.
    const other = await push(name);
    const later = await api
      .http()
      .get('/v1/events?since=0&limit=1000')
      .set('Authorization', `Bearer ${TOKENS.reader}`)
      .expect(200);
    const keys = (later.body as { events: EventJson[] }).events
      .filter((event) => event.event_type === 'v1.package.created')
      .filter((event) => [result.package_id, other.result.package_id].includes(event.subject_id))
      .map((event) => event.payload.idempotency_key);
    expect(new Set(keys).size).toBe(2);
  });
});
