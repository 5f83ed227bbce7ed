import { HttpProblem } from './problem.js';
import { onlyKnownParameters, queryInteger, queryText } from './query-values.js';

function refusal(read: () => unknown): HttpProblem {
  try {
    read();
  } catch (error) {
    if (error instanceof HttpProblem) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('query values', () => {
  it('reads a parameter given once as text, and refuses one given twice', () => {
    expect(queryText({ name: 'app' }, 'name')).toBe('app');
    expect(queryText({}, 'name')).toBeUndefined();
    expect(refusal(() => queryText({ name: ['a', 'b'] }, 'name')).extra).toEqual({ field: 'name' });
    expect(refusal(() => queryText({ name: { nested: 'x' } }, 'name')).code).toBe('invalid_input');
  });

  it('reads integers within bounds, with a fallback when absent', () => {
    expect(queryInteger({ limit: '10' }, 'limit', 1, 1000)).toBe(10);
    expect(queryInteger({ limit: '1000' }, 'limit', 1, 1000)).toBe(1000);
    expect(queryInteger({}, 'limit', 1, 1000)).toBeUndefined();
    expect(queryInteger({}, 'limit', 1, 1000, 100)).toBe(100);
  });

  it.each([['0'], ['1001'], ['-1'], ['1.5'], ['1e3'], [' 5'], ['0x10'], [''], ['99999999999999999999']])(
    'refuses limit=%j',
    (value) => {
      const problem = refusal(() => queryInteger({ limit: value }, 'limit', 1, 1000));
      expect(problem.code).toBe('invalid_input');
      expect(problem.extra).toEqual({ field: 'limit' });
    },
  );

  it('refuses an unknown parameter, naming it and the known ones', () => {
    expect(() => {
      onlyKnownParameters({ limit: '1' }, ['limit', 'cursor']);
    }).not.toThrow();
    const problem = refusal(() => {
      onlyKnownParameters({ limit: '1', stauts: 'created' }, ['limit', 'status']);
    });
    expect(problem.extra).toEqual({ field: 'stauts' });
    expect(problem.message).toBe('unknown query parameter "stauts"; known: limit, status');
  });
});
