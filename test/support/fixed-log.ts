import { blake3, encodeCanonicalCbor, sha256 } from '@artifactstore/codec';
import {
  chainDigest,
  GENESIS_CHAIN_DIGEST,
  type Event,
  type EventDraft,
  type EventLog,
} from '@artifactstore/events';
import type { Database } from '@artifactstore/db';
import { fileIngestedEvent, packageCreatedEvent, packageFinalizedEvent } from '@artifactstore/views';

/**
 * A fully deterministic log — fixed ids, timestamps and contents — for golden digests and cross-dialect checks.
 * Two packages: one finalized with two files (ttl 7 days), one open with one file (never expires).
 */
export function fixedLog(): Event[] {
  const p1 = '00000000-0000-4000-8000-000000000001';
  const p2 = '00000000-0000-4000-8000-000000000002';
  const file = (n: number, packageId: string, path: string, content: string): EventDraft => {
    const bytes = Buffer.from(content);
    const digest = blake3(bytes);
    return fileIngestedEvent('alice', {
      file_id: `00000000-0000-4000-8000-0000000001${n.toString().padStart(2, '0')}`,
      package_id: packageId,
      relative_path: path,
      media_type: 'text/plain; charset=utf-8',
      size: bytes.length,
      blake3: digest,
      sha256: sha256(bytes),
      storage: {
        location_id: `00000000-0000-5000-8000-0000000002${n.toString().padStart(2, '0')}`,
        backend: 'fs',
        key: digest.toString('hex'),
      },
    });
  };
  const drafts: EventDraft[] = [
    packageCreatedEvent('alice', {
      package_id: p1,
      name: 'hello',
      producer: 'ci',
      subject: 'git:abc123',
      retention_class: 'ephemeral',
      ttl_days: 7,
      metadata: { build: 7, tags: ['a', 'é'], ratio: 0.25 },
    }),
    file(1, p1, 'bin/hello', 'hello\n'),
    packageCreatedEvent('bob', {
      package_id: p2,
      name: 'world',
      producer: 'ml',
      subject: 'run-9',
      retention_class: 'permanent',
      ttl_days: null,
      metadata: {},
    }),
    file(2, p1, 'README.md', '# hello\n'),
    file(3, p2, 'model.bin', 'weights'),
    packageFinalizedEvent(
      'alice',
      p1,
      encodeCanonicalCbor({
        schema: 'artifactstore.manifest.v1',
        package: { id: p1, name: 'hello', producer: 'ci', subject: 'git:abc123', metadata: {} },
        files: [],
      }),
    ),
  ];
  let previous = GENESIS_CHAIN_DIGEST;
  return drafts.map((draft, index) => {
    const sequence = index + 1;
    const created_at = `2026-01-02T03:04:0${index}.${String(index * 111).padStart(3, '0')}Z`;
    const chain_digest = chainDigest(previous, { ...draft, sequence, created_at });
    previous = chain_digest;
    return { ...draft, sequence, created_at, chain_digest };
  });
}

/** Carries `events` into the log of `core` as they are (chain checked), without touching the views. */
export async function importLog(
  core: { database: Database; eventLog: EventLog },
  events: readonly Event[],
): Promise<void> {
  await core.database.write((tx) => core.eventLog.importEvents(tx, events));
}
