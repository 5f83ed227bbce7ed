// Sample event drafts for benchmarks and tests. The registry builds the real ones; these only need the right shapes.
import { randomBytes } from 'node:crypto';
import { blake3, encodeCanonicalCbor, sha256, uuidv7 as randomUUID } from '@artifactstore/codec';
import { makeEvent, type EventDraft } from '@artifactstore/events';
import { fileIngestedEvent, packageCreatedEvent, packageFinalizedEvent } from '@artifactstore/views';

export function packageCreated(packageId = randomUUID(), ttlDays: number | null = 90): EventDraft {
  return packageCreatedEvent('tester', {
    package_id: packageId,
    name: `pkg-${packageId.slice(0, 8)}`,
    producer: 'ci',
    subject: 'unit-test',
    retention_class: ttlDays === null ? 'permanent' : 'standard',
    ttl_days: ttlDays,
    metadata: { build: 42, branch: 'main', nested: { ok: true, ratio: 0.5 } },
  });
}

export function fileIngested(
  packageId: string,
  relativePath: string,
  content: Buffer = randomBytes(64),
): EventDraft {
  const digest = blake3(content);
  return fileIngestedEvent('tester', {
    file_id: randomUUID(),
    package_id: packageId,
    relative_path: relativePath,
    media_type: 'application/octet-stream',
    size: content.length,
    blake3: digest,
    sha256: sha256(content),
    storage: { location_id: randomUUID(), backend: 'fs', key: digest.toString('hex') },
  });
}

export function packageFinalized(packageId: string): EventDraft {
  const manifest = encodeCanonicalCbor({
    schema: 'artifactstore.manifest.v1',
    package: { id: packageId, name: 'x', producer: 'ci', subject: 'unit-test', metadata: {} },
    files: [],
  });
  return packageFinalizedEvent('tester', packageId, manifest);
}

export function unknownEvent(): EventDraft {
  return makeEvent(
    {
      event_type: 'v9.something.unheard_of',
      subject_kind: 'widget',
      subject_id: randomUUID(),
      actor: 'tester',
    },
    { anything: [1, 2, 3] },
  );
}
