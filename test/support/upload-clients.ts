import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { NoAnswer, StoreClient, type Reply } from './store-client.js';
import { encodePath, type FileIntent, type UploadLedger } from './upload-ledger.js';

export interface UploadClientsOptions {
  readonly url: string;
  readonly ledger: UploadLedger;
  /** Clients working at once. */
  readonly clients: number;
  /** The clients finish the request they are in and stop when this aborts. */
  readonly until: AbortSignal;
  /** A number in [0, 1), seeded, for every random choice but the bytes themselves. */
  readonly random: () => number;
  /** Largest file, in MiB (a fifth of the files are 1 MiB up to this; the rest are under 256 KiB). */
  readonly maxFileMiB?: number;
  /** Per-request timeout: a request the server holds longer is recorded as unanswered. */
  readonly timeoutMs?: number;
}

const CHUNK = 256 * 1024;

/**
 * Clients that create a package, PUT 1–4 files into it (random sizes, some several MiB, sent in 256 KiB chunks
 * with pauses so that a fault can land mid-upload), finalize it and read one acknowledged file back, over and
 * over, noting every answer in the ledger. A request without an answer is not retried with other bytes: an
 * upload goes on to the next path, a finalize is asked again (a second finalize of a finalized package is 409).
 */
export async function runUploadClients(options: UploadClientsOptions): Promise<void> {
  await Promise.all(Array.from({ length: options.clients }, (_, index) => runClient(options, index)));
}

async function runClient(options: UploadClientsOptions, index: number): Promise<void> {
  const { ledger, until, random } = options;
  const client = new StoreClient(options.url);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const call = async (method: string, path: string, extra: Parameters<StoreClient['call']>[2] = {}) => {
    try {
      return await client.call(method, path, { timeoutMs, ...extra });
    } catch (error) {
      if (error instanceof NoAnswer) return error;
      throw error;
    }
  };
  // A function, not the property: the signal aborts while this loop awaits, which TypeScript cannot see.
  const stopped = (): boolean => until.aborted;
  let round = 0;
  while (!stopped()) {
    round += 1;
    const body = Buffer.from(
      JSON.stringify({
        name: `fault-client-${index}`,
        producer: 'faults',
        subject: `round:${round}`,
        retention_class: 'standard',
        metadata: { client: index, round },
      }),
    );
    const created = await call('POST', '/v1/packages', {
      headers: { 'Content-Type': 'application/json' },
      body,
    });
    const createdOutcome = ledger.note('create', 'POST /v1/packages', created);
    const id = created instanceof NoAnswer ? undefined : StoreClient.json<{ id?: string }>(created)?.id;
    if (createdOutcome !== 'acknowledged' || id === undefined) {
      if (createdOutcome !== 'refused') ledger.unknownCreates += 1;
      await sleep(100);
      continue;
    }
    ledger.addPackage(id);

    const fileCount = 1 + Math.floor(random() * 4);
    for (let fileIndex = 0; fileIndex < fileCount && !stopped(); fileIndex++) {
      const intentBytes = fileBytes(random, options.maxFileMiB ?? 6);
      const path = random() < 0.5 ? `part-${fileIndex}.bin` : `nested/deeper/part-${fileIndex}.bin`;
      const intent: FileIntent = {
        path,
        size: intentBytes.length,
        sha256: createHash('sha256').update(intentBytes).digest('hex'),
        mediaType: 'application/octet-stream',
      };
      const chunks: Buffer[] = [];
      for (let at = 0; at < intentBytes.length; at += CHUNK)
        chunks.push(intentBytes.subarray(at, at + CHUNK));
      const uploaded = await call('PUT', `/v1/packages/${id}/files/${encodePath(path)}`, {
        headers: {
          'Content-Type': intent.mediaType,
          'Content-Digest': `sha-256=:${Buffer.from(intent.sha256, 'hex').toString('base64')}:`,
        },
        body: chunks,
        chunkDelayMs: random() < 0.3 ? 3 : 0,
      });
      const outcome = ledger.note('upload', `PUT ${path}`, uploaded);
      ledger.noteFile(id, intent, outcome);
      if (uploaded instanceof NoAnswer) await sleep(100);
    }

    for (let attempt = 0; attempt < 50; attempt++) {
      const finalized = await call('POST', `/v1/packages/${id}/finalize`);
      // A second finalize after one that went unanswered may find the package finalized already.
      const outcome = ledger.note(
        'finalize',
        `POST finalize`,
        finalized,
        attempt > 0 ? ['illegal_package_state'] : [],
      );
      const address = finalized instanceof NoAnswer ? undefined : contentAddressOf(finalized);
      ledger.noteFinalize(id, outcome, address);
      if (outcome !== 'unknown' || stopped()) break;
      await sleep(200);
    }

    const files = ledger.acknowledgedFiles();
    const pick = files[Math.floor(random() * files.length)];
    if (pick && !stopped()) {
      const read = await call('GET', `/v1/packages/${pick.packageId}/files/${encodePath(pick.intent.path)}`, {
        hash: true,
      });
      ledger.note('read', `GET ${pick.intent.path}`, read);
      if (
        !(read instanceof NoAnswer) &&
        read.status === 200 &&
        read.complete &&
        read.sha256 !== pick.intent.sha256
      ) {
        ledger.badAnswers.push({
          kind: 'read',
          request: `GET ${pick.packageId}/${pick.intent.path}`,
          status: 200,
          detail: `served ${read.size} bytes ${read.sha256}, stored as ${pick.intent.size} ${pick.intent.sha256}`,
        });
      }
    }
  }
}

function contentAddressOf(reply: Reply): string | undefined {
  if (reply.status !== 200) return undefined;
  return StoreClient.json<{ content_address?: string }>(reply)?.content_address;
}

/** Random bytes: four in five files under 256 KiB (some empty), one in five from 1 MiB up to `maxMiB`. */
function fileBytes(random: () => number, maxMiB: number): Buffer {
  const large = random() < 0.2;
  const size = large
    ? 1024 * 1024 + Math.floor(random() * (maxMiB - 1) * 1024 * 1024)
    : random() < 0.05
      ? 0
      : Math.floor(random() * 256 * 1024);
  return randomBytes(size);
}
