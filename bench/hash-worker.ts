// Worker side of the hashing prototype in worker-hashing.ts: hashes slices of shared buffers for the ingests that
// the main thread registers, in the order their messages arrive, and acknowledges each slice so that its buffer
// can be refilled.
import { parentPort } from 'node:worker_threads';
import { createBlake3, createSha256, type IncrementalHash } from '@artifactstore/codec';

export type HashWorkerRequest =
  | { readonly type: 'start'; readonly id: number; readonly blake3: boolean }
  | {
      readonly type: 'update';
      readonly id: number;
      readonly buffer: SharedArrayBuffer;
      readonly length: number;
    }
  | { readonly type: 'digest'; readonly id: number };

export type HashWorkerReply =
  | { readonly type: 'updated'; readonly id: number }
  | {
      readonly type: 'digest';
      readonly id: number;
      readonly blake3?: Uint8Array;
      readonly sha256: Uint8Array;
    };

const port = parentPort;
if (port) {
  const jobs = new Map<number, { blake3?: IncrementalHash; sha256: IncrementalHash }>();
  port.on('message', (request: HashWorkerRequest) => {
    switch (request.type) {
      case 'start':
        jobs.set(request.id, { blake3: request.blake3 ? createBlake3() : undefined, sha256: createSha256() });
        return;
      case 'update': {
        const job = jobs.get(request.id);
        const bytes = Buffer.from(request.buffer, 0, request.length);
        job?.blake3?.update(bytes);
        job?.sha256.update(bytes);
        port.postMessage({ type: 'updated', id: request.id } satisfies HashWorkerReply);
        return;
      }
      case 'digest': {
        const job = jobs.get(request.id);
        jobs.delete(request.id);
        if (!job) return;
        port.postMessage({
          type: 'digest',
          id: request.id,
          blake3: job.blake3?.digest(),
          sha256: job.sha256.digest(),
        } satisfies HashWorkerReply);
        return;
      }
    }
  });
}
