import { HttpProblem } from './problem.js';
import type { ApiRequest } from './principal.js';

const FILES_PREFIX = /\/v1\/packages\/[^/]*\/files\//;
/** The prefix of a tag's file URL, `/v1/tags/{name}/{tag}/files/`. */
export const TAG_FILES_PREFIX = /\/v1\/tags\/[^/]*\/[^/]*\/files\//;

/**
 * The relative path in `/v1/packages/{id}/files/{relative_path}`, read from the raw URL: each segment is
 * percent-decoded on its own and the segments are joined with `/`, so `%2F` is a separator like `/` (a path is a
 * list of segments; there is no way to put a slash inside one). The registry then applies its path rules.
 */
export function relativePathOf(request: ApiRequest, route: RegExp = FILES_PREFIX): string {
  const [pathname = ''] = request.originalUrl.split('?');
  // After the route's own prefix, not after the first `/files/`: the package id (or name and tag) comes before it.
  const prefix = route.exec(pathname);
  if (!prefix)
    throw new HttpProblem('invalid_input', 'no relative path in the URL', {}, { field: 'relative_path' });
  try {
    return pathname
      .slice(prefix.index + prefix[0].length)
      .split('/')
      .map((segment) => decodeURIComponent(segment))
      .join('/');
  } catch {
    throw new HttpProblem(
      'invalid_input',
      'the relative path has a malformed percent-encoding',
      {},
      {
        field: 'relative_path',
      },
    );
  }
}
