import { blake3, toHex } from '@artifactstore/codec';
import type { Event, EventDraft } from '@artifactstore/events';
import vectors from '../../../test/fixtures/lifecycle-event-vectors.json' with { type: 'json' };
import { blobCollectedEvent, readBlobCollected } from './handlers/blob-collected.handler.js';
import { packageCreatedEvent, readPackageCreated } from './handlers/package-created.handler.js';
import { packageDeletedEvent } from './handlers/package-deleted.handler.js';
import { packageExpiredEvent, readPackageExpired } from './handlers/package-expired.handler.js';
import { packageHeldEvent } from './handlers/package-held.handler.js';
import { packageReleasedEvent } from './handlers/package-released.handler.js';
import { packageRetentionChangedEvent } from './handlers/package-retention-changed.handler.js';
import { InvalidPayloadError } from './payload-reader.js';
import { tagDeletedEvent } from './handlers/tag-deleted.handler.js';
import { tagMovedEvent } from './handlers/tag-moved.handler.js';

const PACKAGE = '00000000-0000-4000-8000-000000000001';
const HELLO = blake3(Buffer.from('hello\n'));

/** The worked examples of docs/formats.md, built by the event makers. */
const drafts: Record<keyof typeof vectors, EventDraft | undefined> = {
  'v1.package.expired': packageExpiredEvent('gc', PACKAGE, {
    reason: 'retention',
    expires_at: '2026-01-09T03:04:09.999Z',
  }),
  'v1.package.deleted': packageDeletedEvent('root', PACKAGE, { reason: 'built from the wrong branch' }),
  'v1.package.held': packageHeldEvent('root', PACKAGE, { reason: 'legal hold 42' }),
  'v1.package.released': packageReleasedEvent('root', PACKAGE),
  'v1.package.retention_changed': packageRetentionChangedEvent('root', PACKAGE, {
    retention_class: 'long_term',
    ttl_days: 3650,
  }),
  'v1.blob.collected': blobCollectedEvent('gc', {
    blake3: HELLO,
    size: 6,
    storage: { backend: 'fs', key: toHex(HELLO) },
  }),
  'v1.blob.damaged': undefined, // the scrubber's maker; its bytes are checked by its own spec
  'v1.package.created with idempotency_key': packageCreatedEvent('ci', {
    package_id: PACKAGE,
    name: 'webapp',
    producer: 'ci',
    subject: 'git:1',
    retention_class: 'standard',
    ttl_days: 90,
    metadata: {},
    idempotency_key: 'build-42',
  }),
  'v1.tag.moved': tagMovedEvent('ci', {
    name: 'webapp',
    tag: 'stable',
    package_id: '00000000-0000-4000-8000-000000000002',
    previous_package_id: PACKAGE,
  }),
  'v1.tag.deleted': tagDeletedEvent('root', {
    name: 'webapp',
    tag: 'stable',
    previous_package_id: '00000000-0000-4000-8000-000000000002',
  }),
};

const stored = (draft: EventDraft): Event => ({
  ...draft,
  sequence: 7,
  chain_digest: Buffer.alloc(32),
  created_at: '2026-01-09T03:04:10.000Z',
});

describe('lifecycle events', () => {
  it.each(Object.entries(drafts).filter(([, draft]) => draft !== undefined))(
    '%s encodes to the golden payload of docs/formats.md',
    (type, draft) => {
      const vector = vectors[type as keyof typeof vectors];
      expect(draft?.event_type).toBe(type.split(' ')[0]);
      expect(draft?.payload.toString('hex')).toBe(vector.payload);
      expect(draft?.payload_digest.toString('hex')).toBe(vector.payload_digest);
    },
  );

  it('names the package as the subject of package events and the hex BLAKE3 as that of a collected blob', () => {
    expect(drafts['v1.package.held']).toMatchObject({ subject_kind: 'package', subject_id: PACKAGE });
    expect(drafts['v1.blob.collected']).toMatchObject({ subject_kind: 'blob', subject_id: toHex(HELLO) });
    expect(drafts['v1.tag.moved']).toMatchObject({ subject_kind: 'tag', subject_id: 'webapp:stable' });
  });

  it('writes no idempotency_key when there is none, and reads it back when there is', () => {
    const keyed = drafts['v1.package.created with idempotency_key'];
    if (!keyed) throw new Error('missing draft');
    expect(readPackageCreated(stored(keyed)).idempotency_key).toBe('build-42');
    const plain = packageCreatedEvent('ci', {
      ...readPackageCreated(stored(keyed)),
      idempotency_key: undefined,
    });
    expect(plain.payload.includes(Buffer.from('idempotency_key'))).toBe(false);
    expect(readPackageCreated(stored(plain))).not.toHaveProperty('idempotency_key');
  });

  it('reads back what it wrote, and refuses an expiry reason it does not know', () => {
    const expired = drafts['v1.package.expired'];
    const collected = drafts['v1.blob.collected'];
    if (!expired || !collected) throw new Error('missing draft');
    expect(readPackageExpired(stored(expired))).toEqual({
      reason: 'retention',
      expires_at: '2026-01-09T03:04:09.999Z',
    });
    expect(readBlobCollected(stored(collected))).toEqual({
      blake3: Buffer.from(HELLO),
      size: 6,
      storage: { backend: 'fs', key: toHex(HELLO) },
    });
    const odd = packageExpiredEvent('gc', PACKAGE, {
      reason: 'boredom' as 'retention',
      expires_at: '2026-01-09T03:04:09.999Z',
    });
    expect(() => readPackageExpired(stored(odd))).toThrow(InvalidPayloadError);
    const badTime = packageExpiredEvent('gc', PACKAGE, { reason: 'abandoned', expires_at: '2026-01-09' });
    expect(() => readPackageExpired(stored(badTime))).toThrow(InvalidPayloadError);
  });
});
