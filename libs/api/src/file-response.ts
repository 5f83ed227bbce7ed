import type { Response } from 'express';
import type { FileRecord, Registry } from '@artifactstore/registry';
import { parseRange } from './byte-range.js';
import { ifNoneMatchHits, ifRangeHolds } from './conditional.js';
import { formatContentDigest } from './content-digest.js';
import { HttpProblem } from './problem.js';
import type { ApiRequest } from './principal.js';

/**
 * Sends a file's bytes (or only its headers for HEAD): strong ETag from the BLAKE3 digest, byte ranges, 304 on a
 * matching If-None-Match, Content-Digest on full responses. The whole body is BLAKE3-verified as it streams; on a
 * mismatch the stream fails before its last bytes and the connection is cut (see ProblemFilter).
 */
export async function sendFile(
  registry: Registry,
  request: ApiRequest,
  response: Response,
  file: FileRecord,
): Promise<void> {
  const etag = `"${file.blake3}"`;
  response.setHeader('ETag', etag);
  response.setHeader('Accept-Ranges', 'bytes');
  response.setHeader('Last-Modified', new Date(file.created_at).toUTCString());
  if (ifNoneMatchHits(request.headers['if-none-match'], etag)) {
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
  response.setHeader('Content-Type', file.media_type);
  if (range.kind === 'single') {
    response.status(206);
    response.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${file.size}`);
    response.setHeader('Content-Length', String(range.end - range.start + 1));
  } else {
    response.status(200);
    response.setHeader('Content-Length', String(file.size));
    response.setHeader('Content-Digest', formatContentDigest(file.sha256));
  }
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  try {
    await registry.sendFile(
      file,
      response,
      range.kind === 'single' ? { start: range.start, end: range.end } : {},
    );
  } catch (error) {
    // The client went away mid-download: nothing to answer and nothing wrong on our side.
    if (response.destroyed && (error as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    throw error;
  }
}

function header(request: ApiRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
