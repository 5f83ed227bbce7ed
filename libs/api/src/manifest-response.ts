import type { Response } from 'express';
import type { Registry } from '@artifactstore/registry';
import { ifNoneMatchHits } from './conditional.js';
import { manifestFormat } from './negotiation.js';
import type { ApiRequest } from './principal.js';
import { onlyKnownParameters } from './query-values.js';

/**
 * A manifest, by package id or content address, as canonical CBOR (the default) or its JCS JSON. Each form has
 * its own ETag, and every response (a 406 too) varies by Accept. `format` is the only query parameter.
 */
export async function sendManifest(
  registry: Registry,
  request: ApiRequest,
  response: Response,
  ref: string,
): Promise<void> {
  // Before negotiating: a 406 depends on Accept as much as a 200 does, and a cache must know it.
  response.setHeader('Vary', 'Accept');
  onlyKnownParameters(request.query, ['format']);
  const format = manifestFormat(request.headers.accept, request.query.format);
  const manifest = await registry.getManifestBytes(ref, format);
  const etag = format === 'cbor' ? `"${manifest.content_address}"` : `"${manifest.content_address}.json"`;
  response.setHeader('ETag', etag);
  if (ifNoneMatchHits(request.headers['if-none-match'], etag)) {
    response.status(304).end();
    return;
  }
  response.status(200);
  response.setHeader('Content-Type', format === 'cbor' ? 'application/cbor' : 'application/json');
  response.setHeader('Content-Length', String(manifest.bytes.length));
  response.end(request.method === 'HEAD' ? undefined : manifest.bytes);
}
