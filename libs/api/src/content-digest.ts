import { HttpProblem } from './problem.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The SHA-256 a client declared in `Content-Digest` (RFC 9530: a structured-field dictionary of algorithm → byte
 * sequence, e.g. `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`). Other algorithms are allowed and
 * ignored; a malformed header, or a sha-256 that is not 32 bytes, is refused.
 */
export function parseContentDigest(header: string | undefined): Buffer | undefined {
  if (header === undefined) return undefined;
  let sha256: Buffer | undefined;
  for (const member of header.split(',')) {
    const match = /^\s*([a-z*][a-z0-9_\-.*]*)=:([^:]*):(;[^,]*)?\s*$/.exec(member);
    const [, algorithm, base64 = ''] = match ?? [];
    if (!algorithm || base64.length % 4 !== 0 || !BASE64.test(base64)) {
      throw new HttpProblem(
        'invalid_input',
        `Content-Digest is malformed: ${JSON.stringify(header)}`,
        {},
        {
          field: 'Content-Digest',
        },
      );
    }
    if (algorithm !== 'sha-256') continue;
    const digest = Buffer.from(base64, 'base64');
    if (digest.length !== 32) {
      throw new HttpProblem(
        'invalid_input',
        'Content-Digest sha-256 must be 32 bytes',
        {},
        { field: 'Content-Digest' },
      );
    }
    sha256 = digest;
  }
  return sha256;
}

/** `sha-256=:<base64>:` for a response body. */
export function formatContentDigest(sha256Hex: string): string {
  return `sha-256=:${Buffer.from(sha256Hex, 'hex').toString('base64')}:`;
}

/** The BLAKE3 a client declared in `X-Content-BLAKE3`: 64 hex digits. */
export function parseBlake3Header(header: string | undefined): Buffer | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(value)) {
    throw new HttpProblem(
      'invalid_input',
      'X-Content-BLAKE3 must be 64 hex digits',
      {},
      { field: 'X-Content-BLAKE3' },
    );
  }
  return Buffer.from(value, 'hex');
}
