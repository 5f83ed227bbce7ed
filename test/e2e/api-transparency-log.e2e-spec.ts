import {
  decodeEntryBundle,
  leafHash,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  verifyConsistency,
  verifyInclusion,
} from '@artifactstore/codec';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { binary, createPackage, expectProblem } from '../support/http-helpers.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

interface ReceiptBody {
  package_id: string;
  leaf_index: number;
  entry: string;
  manifest: string;
  checkpoint: string;
  inclusion_proof: string[];
}

describe.each(dialectsUnderTest())('the transparency log over HTTP ($dialect)', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let api: ApiHarness;

  beforeAll(async () => {
    testDatabase = await dialectUnderTest.create();
    api = await startApi(testDatabase);
  });

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
  });

  const publish = async (): Promise<string> => {
    const pkg = await createPackage(api);
    await api.http().put(`/v1/packages/${pkg.id}/files/a.txt`).send(Buffer.from('a')).expect(201);
    await api.http().post(`/v1/packages/${pkg.id}/finalize`).expect(200);
    return pkg.id;
  };

  const verifierKey = async () => {
    const response = await api.http().get('/v1/log/key').expect(200);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    return parseVerifierKey(response.text.trimEnd());
  };

  const checkpoint = async () => {
    const response = await api.http().get('/v1/log/checkpoint').expect(200);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-cache');
    return parseCheckpoint(openNote(response.text, await verifierKey()).text);
  };

  it('signs a checkpoint of the log that a C2SP verifier key opens', async () => {
    const empty = await checkpoint();
    expect(empty.size).toBe(0);
    expect(empty.root.toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    await publish();
    const head = await checkpoint();
    expect(head.size).toBe(3);
    expect(head.origin).toBe((await verifierKey()).name);
  });

  it('serves a receipt that proves the finalization, and one against an older size', async () => {
    const id = await publish();
    const older = await checkpoint();
    await publish();
    for (const query of ['', `?size=${older.size}`]) {
      const response = await api.http().get(`/v1/packages/${id}/receipt${query}`).expect(200);
      const receipt = response.body as ReceiptBody;
      const signed = parseCheckpoint(openNote(receipt.checkpoint, await verifierKey()).text);
      if (query !== '') expect(signed.size).toBe(older.size);
      const proof = receipt.inclusion_proof.map((hash) => Buffer.from(hash, 'base64'));
      const entry = Buffer.from(receipt.entry, 'base64');
      expect(verifyInclusion(receipt.leaf_index, signed.size, leafHash(entry), proof, signed.root)).toBe(
        true,
      );
    }
    expectProblem(await api.http().get(`/v1/packages/${id}/receipt?size=1`), 400, 'invalid_input');
    expectProblem(
      await api.http().get(`/v1/packages/${id}/receipt?size=999999`),
      404,
      'log_range_not_available',
    );
    expectProblem(await api.http().get(`/v1/packages/${id}/receipt?sise=3`), 400, 'invalid_input');
    expectProblem(await api.http().get('/v1/packages/nope/receipt'), 400, 'invalid_input');
    const open = await createPackage(api);
    expectProblem(await api.http().get(`/v1/packages/${open.id}/receipt`), 409, 'illegal_package_state');
  });

  it('proves consistency between two sizes', async () => {
    const old = await checkpoint();
    await publish();
    const head = await checkpoint();
    const response = await api.http().get(`/v1/log/consistency?from=${old.size}`).expect(200);
    const body = response.body as { from: number; to: number; proof: string[] };
    expect({ from: body.from, to: body.to }).toEqual({ from: old.size, to: head.size });
    const proof = body.proof.map((hash) => Buffer.from(hash, 'base64'));
    expect(verifyConsistency(old.size, head.size, old.root, head.root, proof)).toBe(true);
    expectProblem(await api.http().get('/v1/log/consistency'), 400, 'invalid_input');
    expectProblem(await api.http().get('/v1/log/consistency?from=0'), 400, 'invalid_input');
    expectProblem(await api.http().get(`/v1/log/consistency?from=2&to=1`), 400, 'invalid_input');
    const beyond = await api.http().get(`/v1/log/consistency?from=1&to=${head.size + 1}`);
    expectProblem(beyond, 404, 'log_range_not_available');
    expect(beyond.body).toMatchObject({ tree_size: head.size });
  });

  it('serves partial tiles and entry bundles as tlog-tiles lays them out, and refuses other paths', async () => {
    const head = await checkpoint();
    const tile = await api
      .http()
      .get(`/v1/log/tile/0/000.p/${head.size}`)
      .buffer(true)
      .parse(binary)
      .expect(200);
    expect(tile.headers['content-type']).toBe('application/octet-stream');
    expect(tile.headers['cache-control']).toBe('public, max-age=60'); // no tokens: anyone may read it
    const hashes = tile.body as Buffer;
    expect(hashes.length).toBe(32 * head.size);
    const bundle = await api
      .http()
      .get(`/v1/log/tile/entries/000.p/${head.size}`)
      .buffer(true)
      .parse(binary)
      .expect(200);
    const entries = decodeEntryBundle(bundle.body as Buffer);
    expect(Buffer.concat(entries.map((entry) => leafHash(entry)))).toEqual(hashes);
    const smaller = await api.http().get('/v1/log/tile/0/000.p/2').buffer(true).parse(binary).expect(200);
    expect(smaller.body).toEqual(hashes.subarray(0, 64));

    expectProblem(await api.http().get('/v1/log/tile/0/000'), 404, 'log_range_not_available');
    expectProblem(await api.http().get('/v1/log/tile/1/000.p/1'), 404, 'log_range_not_available');
    for (const bad of ['0/0', '0/000.p/256', '0/000.p/0', '0/x000/001', '64/000', 'entries/1', '0/000/']) {
      expectProblem(await api.http().get(`/v1/log/tile/${bad}`), 404, 'not_found');
    }
  });
});
