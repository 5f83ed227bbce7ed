import { HttpProblem } from './problem.js';
import type { ApiRequest } from './principal.js';

/**
 * The relative path in `/v1/packages/{id}/files/{relative_path}`, read from the raw URL: each segment is
 * percent-decoded on its own and the segments are joined with `/`, so `%2F` is a separator like `/` (a path is a
 * list of segments; there is no way to put a slash inside one). The registry then applies its path rules.
 */
export function relativePathOf(request: ApiRequest): string {
  const [pathname = ''] = request.originalUrl.split('?');
  const at = pathname.indexOf('/files/');
  if (at === -1)
    throw new HttpProblem('invalid_input', 'no relative path in the URL', {}, { field: 'relative_path' });
  try {
    return pathname
      .slice(at + '/files/'.length)
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
