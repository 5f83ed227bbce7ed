import { randomBytes } from 'node:crypto';
import {
  blake3,
  contentAddress,
  encodeCanonicalCbor,
  formatCheckpoint,
  signNote,
} from '@artifactstore/codec';
import { buildManifest, encodeManifest } from '@artifactstore/registry/rules';
import { VECTOR_PACKAGE, vectorFile } from '../../../../test/support/manifest-vectors.js';
import { SignedLog } from '../../../../test/support/signed-log.js';
import type { PackageReceipt } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import { asReceipt, checkReceipt, parseLogKey, parseReceiptText } from './receipt-check.js';

const PACKAGE_ID = VECTOR_PACKAGE.id;
const OTHER_ID = '01890a5d-ac96-774b-bcce-000000000002';

/** A log entry as the server encodes it (docs/formats.md): [sequence, type, kind, id, actor, at, digest]. */
function entryOf(sequence: number, eventType: string, subjectId: string, payload: Uint8Array): Buffer {
  return encodeCanonicalCbor([
    sequence,
    eventType,
    'package',
    subjectId,
    'ci',
    '2026-01-02T03:04:05.678Z',
    blake3(payload),
  ]);
}

function manifestOf(id: string, content: string): Buffer {
  return encodeManifest(buildManifest({ ...VECTOR_PACKAGE, id }, [vectorFile('a.txt', content)]));
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** A log of 7 entries whose entry 3 is the finalization of `eventType`'s package; its receipt against size 7. */
function receiptIn(
  log: SignedLog,
  eventType = 'v1.package.finalized',
): { receipt: PackageReceipt; address: string } {
  const manifest = manifestOf(PACKAGE_ID, 'hello\n');
  for (let sequence = 1; sequence <= 7; sequence += 1) {
    log.append(
      sequence === 4
        ? entryOf(sequence, eventType, PACKAGE_ID, manifest)
        : entryOf(sequence, 'v1.file.added', OTHER_ID, randomBytes(16)),
    );
  }
  return {
    receipt: {
      package_id: PACKAGE_ID,
      leaf_index: 3,
      entry: b64(entryOf(4, eventType, PACKAGE_ID, manifest)),
      manifest: b64(manifest),
      checkpoint: log.checkpoint(),
      inclusion_proof: log.inclusionProof(3).map(b64),
    },
    address: contentAddress(blake3(manifest)),
  };
}

/** The CliError `run` throws: its code, exit status and message. */
function failureOf(run: () => unknown): { code: string; exitStatus: number; message: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    const { code, exitStatus, message } = error as CliError;
    return { code, exitStatus, message };
  }
  throw new Error('expected a CliError');
}

describe('checkReceipt', () => {
  const log = new SignedLog();
  const { receipt, address } = receiptIn(log);
  const check =
    (changed: Partial<PackageReceipt>, expected = {}) =>
    () =>
      checkReceipt({ ...receipt, ...changed }, log.verifier, expected);
  const refused = (changed: Partial<PackageReceipt>, message: RegExp, expected = {}) => {
    expect(failureOf(check(changed, expected))).toEqual({
      code: 'receipt_invalid',
      exitStatus: 4,
      message: expect.stringMatching(message) as string,
    });
  };

  it('accepts a good receipt: the checkpoint, the manifest and its content address', () => {
    const checked = checkReceipt(receipt, log.verifier, { packageId: PACKAGE_ID, contentAddress: address });
    expect(checked).toMatchObject({
      packageId: PACKAGE_ID,
      leafIndex: 3,
      contentAddress: address,
      checkpointNote: receipt.checkpoint,
      checkpoint: { origin: log.origin, size: 7, root: log.root() },
    });
    expect(checked.manifest.package.id).toBe(PACKAGE_ID);
    expect(checked.manifest.files.map((file) => file.relative_path)).toEqual(['a.txt']);
  });

  it('accepts a receipt against an older checkpoint that still holds the entry', () => {
    const older = { checkpoint: log.checkpoint(4), inclusion_proof: log.inclusionProof(3, 4).map(b64) };
    expect(checkReceipt({ ...receipt, ...older }, log.verifier, {}).checkpoint.size).toBe(4);
  });

  it('refuses a checkpoint signed by another key of the same name', () => {
    const impostor = new SignedLog(log.origin);
    impostor.leaves.push(...log.leaves);
    refused(
      { checkpoint: impostor.checkpoint() },
      /^the checkpoint is not signed by the log key example\.test\/log\+/,
    );
  });

  it('refuses a checkpoint whose text was changed after signing', () => {
    refused(
      { checkpoint: receipt.checkpoint.replace('\n7\n', '\n8\n') },
      /not signed by the log key.*invalid signature/,
    );
  });

  it("refuses a checkpoint of another origin, even signed by the log's key", () => {
    const text = formatCheckpoint({ origin: 'elsewhere.test/log', size: 7, root: log.root() });
    refused(
      { checkpoint: signNote(text, log.origin, log.privateKey) },
      /^the checkpoint is of the log "elsewhere\.test\/log", not of "example\.test\/log"/,
    );
  });

  it('refuses an entry that is not the finalization of a package', () => {
    const created = new SignedLog(log.origin, log.privateKey);
    const other = receiptIn(created, 'v1.package.created');
    expect(failureOf(() => checkReceipt(other.receipt, log.verifier, {})).message).toMatch(
      /^the entry is event 4, v1\.package\.created of package .*, not the v1\.package\.finalized of package/,
    );
  });

  it("refuses an entry of another package than the receipt's", () => {
    refused(
      { package_id: OTHER_ID },
      /not the v1\.package\.finalized of package 01890a5d-ac96-774b-bcce-000000000002$/,
    );
  });

  it('refuses a receipt of another package than the one asked for', () => {
    refused(
      {},
      /^the receipt is of package 01890a5d-.*, not of 01890a5d-ac96-774b-bcce-000000000002 \(web:stable\)$/,
      {
        packageId: OTHER_ID,
        ref: 'web:stable',
      },
    );
  });

  it("refuses a manifest whose BLAKE3 is not the entry's payload digest", () => {
    refused(
      { manifest: b64(manifestOf(PACKAGE_ID, 'tampered\n')) },
      /^the manifest's BLAKE3 is [0-9a-f]{64}, but the entry's payload digest is/,
    );
  });

  it('refuses a receipt of another content address than the one asked for', () => {
    const wanted = contentAddress(blake3('something else'));
    refused({}, new RegExp(`^the receipt is of ${address}, not of ${wanted}$`), { contentAddress: wanted });
  });

  it('refuses an inclusion proof that does not lead to the root', () => {
    const proof = [...receipt.inclusion_proof];
    proof[1] = b64(randomBytes(32));
    refused(
      { inclusion_proof: proof },
      /^the inclusion proof of entry 3 does not lead to the root of the checkpoint of size 7$/,
    );
  });

  it('refuses the entry claimed at another leaf, and at a leaf beyond the tree', () => {
    refused({ leaf_index: 2 }, /^the inclusion proof of entry 2 does not lead to the root/);
    refused({ leaf_index: 7 }, /^entry 7 is not in the checkpoint's tree of size 7$/);
  });

  it('refuses an entry that is not a log entry, and bytes that are not canonical base64', () => {
    refused({ entry: b64(Buffer.of(0xff)) }, /^the entry is not CBOR/);
    refused({ entry: b64(encodeCanonicalCbor([1, 2, 3])) }, /^the entry is not a log entry/);
    refused({ manifest: `${receipt.manifest.slice(0, -4)}!!!!` }, /^manifest is not canonical base64$/);
  });
});

describe('reading a receipt', () => {
  it('calls a file that is not JSON a usage mistake (exit 1), and JSON without the fields a bad receipt (exit 4)', () => {
    expect(failureOf(() => parseReceiptText('{"package_id": ', 'r.json'))).toMatchObject({
      code: 'invalid_input',
      exitStatus: 1,
    });
    expect(failureOf(() => parseReceiptText('[]', 'r.json'))).toMatchObject({
      code: 'receipt_invalid',
      exitStatus: 4,
      message: 'r.json is not a receipt: not a JSON object',
    });
    expect(failureOf(() => asReceipt({ package_id: 'x', leaf_index: -1 }, 'r.json')).message).toBe(
      'r.json is not a receipt: leaf_index is not an integer ≥ 0',
    );
  });

  it('refuses a --log-key that is not a verifier key (exit 1)', () => {
    const log = new SignedLog();
    expect(parseLogKey(`${log.verifierKey}\n`).name).toBe(log.origin);
    const mangled = log.verifierKey.replace(/\+[0-9a-f]{8}\+/, '+00000000+');
    for (const text of ['', 'not a key', mangled]) {
      expect(failureOf(() => parseLogKey(text))).toMatchObject({ code: 'invalid_input', exitStatus: 1 });
    }
  });
});
