import { sha256 } from '@artifactstore/codec';

/**
 * The text of an ARTIFACTSTORE_TOKENS_FILE giving each role in `tokens` one token, named `<role>-bot` (the actor of
 * the events its requests cause).
 */
export function tokensJson(tokens: Readonly<Record<string, string>>): string {
  return JSON.stringify(
    Object.entries(tokens).map(([role, token]) => ({
      name: `${role}-bot`,
      token_sha256: sha256(token).toString('hex'),
      role,
    })),
  );
}
