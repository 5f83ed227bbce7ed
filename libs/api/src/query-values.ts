import { HttpProblem } from './problem.js';

/** A query parameter given at most once, as text. */
export function queryText(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new HttpProblem('invalid_input', `${name} must be given once`, {}, { field: name });
  }
  return value;
}

/** An integer query parameter within [min, max]; `fallback` when absent. */
export function queryInteger(
  query: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
  fallback: number,
): number;
export function queryInteger(
  query: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined;
export function queryInteger(
  query: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
  fallback?: number,
): number | undefined {
  const text = queryText(query, name);
  if (text === undefined) return fallback;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new HttpProblem(
      'invalid_input',
      `${name} must be an integer from ${min} to ${max}`,
      {},
      { field: name },
    );
  }
  return value;
}

/** Refuses parameters the endpoint does not know: a typo (`stauts=`) would otherwise be silently ignored. */
export function onlyKnownParameters(query: Record<string, unknown>, known: readonly string[]): void {
  for (const name of Object.keys(query)) {
    if (!known.includes(name)) {
      throw new HttpProblem(
        'invalid_input',
        `unknown query parameter ${JSON.stringify(name)}; known: ${known.join(', ')}`,
        {},
        {
          field: name,
        },
      );
    }
  }
}
