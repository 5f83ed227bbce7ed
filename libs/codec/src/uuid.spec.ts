import { isUuid, uuidv5, uuidv7 } from './uuid.js';

describe('uuidv5', () => {
  it('matches the RFC 9562 Appendix A.4 example (DNS namespace, www.example.com)', () => {
    expect(uuidv5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('is deterministic and depends on namespace and name', () => {
    const ns = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';
    expect(uuidv5(ns, 'a')).toBe(uuidv5(ns, Buffer.from('a')));
    expect(uuidv5(ns, 'a')).not.toBe(uuidv5(ns, 'b'));
    expect(uuidv5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'a')).not.toBe(uuidv5(ns, 'a'));
  });

  it('refuses a namespace that is not a lowercase UUID', () => {
    expect(() => uuidv5('6BA7B810-9DAD-11D1-80B4-00C04FD430C8', 'a')).toThrow(TypeError);
  });
});

describe('uuidv7', () => {
  it('spells version 7 with the RFC variant and the current time', () => {
    const before = Date.now();
    const id = uuidv7();
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe('7');
    expect('89ab').toContain(id[19]);
    const millis = parseInt(id.replaceAll('-', '').slice(0, 12), 16);
    expect(millis).toBeGreaterThanOrEqual(before);
    expect(millis).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('is strictly increasing, also for many ids in one millisecond', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    const outOfOrder = ids.findIndex((id, i) => i > 0 && id <= ids[i - 1]!);
    expect(outOfOrder).toBe(-1);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('isUuid', () => {
  it.each([
    '',
    '00000000-0000-0000-0000-00000000000',
    'ABCDEF00-0000-4000-8000-000000000000',
    'x'.repeat(36),
  ])('refuses %j', (value) => {
    expect(isUuid(value)).toBe(false);
  });
});
