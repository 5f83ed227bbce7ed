import { addDays, formatTimestamp, InvalidTimestampError, parseTimestamp } from './index.js';

describe('timestamps', () => {
  it('formats with milliseconds and Z', () => {
    expect(formatTimestamp(new Date(Date.UTC(2026, 10, 27, 8, 5, 3, 7)))).toBe('2026-11-27T08:05:03.007Z');
  });

  it('parses only the one spelling', () => {
    expect(parseTimestamp('2026-11-27T08:05:03.007Z')).toBe(Date.UTC(2026, 10, 27, 8, 5, 3, 7));
    for (const bad of [
      '2026-11-27T08:05:03Z',
      '2026-11-27T08:05:03.007+00:00',
      '2026-02-30T00:00:00.000Z',
      '',
    ]) {
      expect(() => parseTimestamp(bad)).toThrow(InvalidTimestampError);
    }
  });

  it('adds whole days', () => {
    expect(addDays('2026-12-30T12:00:00.000Z', 7)).toBe('2027-01-06T12:00:00.000Z');
  });
});
