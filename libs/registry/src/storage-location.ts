import { encodeCanonicalCbor, uuidv5 } from '@artifactstore/codec';

/** RFC 9562 v5 namespace of storage location ids (docs/formats.md). */
export const STORAGE_LOCATION_NAMESPACE = '2c8c9714-15d9-40c4-a93a-96a3706cbe05';

/** Deterministic, so replay reproduces it: UUIDv5 of the canonical CBOR of [file id, backend, key]. */
export function storageLocationId(fileId: string, backend: string, key: string): string {
  return uuidv5(STORAGE_LOCATION_NAMESPACE, encodeCanonicalCbor([fileId, backend, key]));
}
