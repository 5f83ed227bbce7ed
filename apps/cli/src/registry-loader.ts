import type * as RegistryFrontDoor from '@artifactstore/registry';

/**
 * The registry's front door, loaded on first use. Commands that decode a manifest or check paths need its rules,
 * but the same import brings Nest and TypeORM (about half a second), which `--help`, `ls`, `show`, `tail` and an
 * unreachable server must not cost. `reflect-metadata` goes first, so that the registry's Nest classes keep
 * their metadata should `--local` later build a Nest context from them in this process.
 */
export async function loadRegistry(): Promise<typeof RegistryFrontDoor> {
  await import('reflect-metadata');
  return import('@artifactstore/registry');
}
