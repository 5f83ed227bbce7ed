import type { PackageRecord } from '@artifactstore/registry';
import type { ArtifactClient, TagRecord } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import { checkTag, packageIdOf, parseRef, parseTagRef } from './package-ref.js';

const ID = '0192f4c1-7b2a-7c3d-8e4f-5a6b7c8d9e0f';
const ADDRESS = `blake3:${'ab'.repeat(32)}`;

/** The error `work` throws, for matching its code and exit status. */
function failure(work: () => unknown): CliError {
  try {
    work();
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
  throw new Error('did not throw');
}

describe('parseRef', () => {
  it('reads a package id, a content address and <name>:<tag>', () => {
    expect(parseRef(ID)).toEqual({ kind: 'id', id: ID });
    expect(parseRef(ADDRESS)).toEqual({ kind: 'address', address: ADDRESS });
    expect(parseRef('webapp:stable')).toEqual({ kind: 'tag', name: 'webapp', tag: 'stable' });
  });

  it('splits at the last colon: a name may hold colons and slashes, a tag neither', () => {
    expect(parseRef('web/ui:v1.2.3')).toEqual({ kind: 'tag', name: 'web/ui', tag: 'v1.2.3' });
    expect(parseRef('team:web:_latest')).toEqual({ kind: 'tag', name: 'team:web', tag: '_latest' });
  });

  it('takes blake3: and 64 lowercase hex digits as an address, even were there a package named blake3', () => {
    const hexTag = 'c'.repeat(64);
    expect(parseRef(`blake3:${hexTag}`)).toEqual({ kind: 'address', address: `blake3:${hexTag}` });
    // Any other tag of a package named blake3 is a tag.
    expect(parseRef('blake3:stable')).toEqual({ kind: 'tag', name: 'blake3', tag: 'stable' });
  });

  it('refuses blake3: with hex digits only, of another length or case, as a mistyped address (exit 1)', () => {
    for (const ref of ['blake3:', 'blake3:abc', `blake3:${'AB'.repeat(32)}`, `blake3:${'a'.repeat(65)}`]) {
      expect(failure(() => parseRef(ref))).toMatchObject({
        code: 'invalid_input',
        exitStatus: 1,
        message: expect.stringContaining('64 lowercase hex digits') as string,
      });
    }
  });

  it('refuses an empty name or a tag outside the grammar (exit 1)', () => {
    for (const ref of [
      ':stable',
      'webapp:',
      'webapp:.hidden',
      'webapp:-x',
      'webapp:a b',
      `webapp:${'x'.repeat(129)}`,
    ]) {
      expect(failure(() => parseRef(ref))).toMatchObject({ code: 'invalid_input', exitStatus: 1 });
    }
    expect(parseRef(`webapp:${'x'.repeat(128)}`)).toMatchObject({ kind: 'tag' });
  });
});

describe('parseTagRef', () => {
  it('wants <name>:<tag>: a reference without a colon is a usage error', () => {
    expect(parseTagRef('web/ui:stable')).toMatchObject({ name: 'web/ui', tag: 'stable' });
    expect(failure(() => parseTagRef(ID))).toMatchObject({ code: 'usage', exitStatus: 1 });
  });
});

describe('checkTag', () => {
  it("accepts the registry's grammar and names the flag in a refusal", () => {
    expect(checkTag('v1.0_rc-1')).toBe('v1.0_rc-1');
    expect(failure(() => checkTag('no:colon', '--tag no:colon')).message).toMatch(/^--tag no:colon: /);
  });
});

describe('packageIdOf', () => {
  it('takes an id as it is and asks the client for a tag', async () => {
    const asked: string[] = [];
    const client = {
      getTag: (name: string, tag: string) => {
        asked.push(`${name}:${tag}`);
        return Promise.resolve({ name, tag, package: { id: ID } as PackageRecord } as TagRecord);
      },
    } as Partial<ArtifactClient> as ArtifactClient;
    await expect(packageIdOf(client, ID)).resolves.toBe(ID);
    expect(asked).toEqual([]);
    await expect(packageIdOf(client, 'web/ui:stable')).resolves.toBe(ID);
    expect(asked).toEqual(['web/ui:stable']);
  });
});
