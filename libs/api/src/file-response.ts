import type { Response } from 'express';
import type { FileRecord, Registry } from '@artifactstore/registry';
import { parseRange } from './byte-range.js';
import { ifNoneMatchHits, ifRangeHolds } from './conditional.js';
import { formatContentDigest } from './content-digest.js';
import { HttpProblem } from './problem.js';
import type { ApiRequest } from './principal.js';

/**
 * Sends a file's bytes (or only its headers for HEAD): strong ETag from the BLAKE3 digest, byte ranges, 304 on a
 * matching If-None-Match, Content-Digest on full responses. The whole body is BLAKE3-verified as it streams. What
 * the client gets when the send fails is decided here, from what the send reports: nothing written yet (a missing
 * blob, or damage found before the first byte), the file's headers are taken back and the error is answered as a
 * problem; bytes written already, the response is cut short (ProblemFilter destroys it), so that the client sees
 * a short body instead of a complete-looking one.
 */
export async function sendFile(
  registry: Registry,
  request: ApiRequest,
  response: Response,
  file: FileRecord,
): Promise<void> {
  // A file of an expired or deleted package is 410, for HEAD and conditional requests too.
  await registry.checkDeliverable(file);
  const etag = `"${file.blake3}"`;
  const validators = {
    ETag: etag,
    'Accept-Ranges': 'bytes',
    'Last-Modified': new Date(file.created_at).toUTCString(),
  };
  if (ifNoneMatchHits(request.headers['if-none-match'], etag)) {
    setHeaders(response, validators);
    response.status(304).end();
    return;
  }
  const range = ifRangeHolds(header(request, 'if-range'), etag)
    ? parseRange(request.headers.range, file.size)
    : ({ kind: 'whole' } as const);
  if (range.kind === 'unsatisfiable') {
    throw new HttpProblem('range_not_satisfiable', `the file has ${file.size} bytes`, {
      'Content-Range': `bytes */${file.size}`,
    });
  }
  const representation: Record<string, string> = {
    ...validators,
    'Content-Type': file.media_type,
    ...(range.kind === 'single'
      ? {
          'Content-Range': `bytes ${range.start}-${range.end}/${file.size}`,
          'Content-Length': String(range.end - range.start + 1),
        }
      : { 'Content-Length': String(file.size), 'Content-Digest': formatContentDigest(file.sha256) }),
  };
  response.status(range.kind === 'single' ? 206 : 200);
  setHeaders(response, representation);
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  const outcome = await registry
    .sendFile(file, response, range.kind === 'single' ? { start: range.start, end: range.end } : {})
    // Failed before the send began (where the bytes are could not be read): nothing was written.
    .catch((error: unknown) => ({ ok: false, bytesWritten: 0, error }) as const);
  if (outcome.ok) return;
  // The client went away mid-download: nothing to answer and nothing wrong on our side.
  if (response.destroyed) return;
  if (outcome.bytesWritten === 0) for (const name of Object.keys(representation)) response.removeHeader(name);
  throw outcome.error;
}

function setHeaders(response: Response, headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
}

function header(request: ApiRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
