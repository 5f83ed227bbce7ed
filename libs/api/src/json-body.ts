import { HttpProblem } from './problem.js';

/**
 * A JSON request body as an object holding only `fields` (a typo is an error, not a silent default). `optional`
 * bodies may be absent; the field values are left for the registry to check.
 */
export function jsonFields(
  body: unknown,
  fields: readonly string[],
  options: { optional?: boolean } = {},
): Readonly<Record<string, unknown>> {
  if (body === undefined && options.optional) return {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpProblem(
      'invalid_input',
      'send a JSON object with Content-Type: application/json',
      {},
      { field: 'body' },
    );
  }
  for (const key of Object.keys(body)) {
    if (!fields.includes(key)) {
      throw new HttpProblem('invalid_input', `unknown field ${JSON.stringify(key)}`, {}, { field: key });
    }
  }
  return body as Readonly<Record<string, unknown>>;
}
