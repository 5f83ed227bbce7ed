import { clientAddressOf } from './client-address.js';

/** Trusted here: 10.0.0.0/8, 127.0.0.1 and ::1. */
const trusted = (address: string): boolean =>
  address.startsWith('10.') || address === '127.0.0.1' || address === '::1';

describe('clientAddressOf', () => {
  it('is the peer when the peer is not a trusted proxy, whatever X-Forwarded-For says', () => {
    expect(clientAddressOf('198.51.100.7', '203.0.113.9', trusted)).toBe('198.51.100.7');
    expect(clientAddressOf('198.51.100.7', 'junk', trusted)).toBe('198.51.100.7');
  });

  it('is the peer when a trusted proxy sends no X-Forwarded-For', () => {
    expect(clientAddressOf('10.0.0.1', undefined, trusted)).toBe('10.0.0.1');
  });

  it('is undefined without a peer (a destroyed socket)', () => {
    expect(clientAddressOf(undefined, '203.0.113.9', trusted)).toBeUndefined();
  });

  it('takes the right-most address that is not a trusted proxy', () => {
    expect(clientAddressOf('127.0.0.1', '203.0.113.9', trusted)).toBe('203.0.113.9');
    expect(clientAddressOf('127.0.0.1', '203.0.113.9, 10.1.2.3', trusted)).toBe('203.0.113.9');
    expect(clientAddressOf('127.0.0.1', '198.51.100.1, 203.0.113.9,10.1.2.3 , 10.9.9.9', trusted)).toBe(
      '203.0.113.9',
    );
    expect(clientAddressOf('::1', '2001:db8::1, ::1', trusted)).toBe('2001:db8::1');
  });

  it('does not believe what the client wrote left of the first untrusted hop', () => {
    // A client may send its own X-Forwarded-For; the proxy appends the real peer to it.
    expect(clientAddressOf('10.0.0.1', '10.0.0.2, 203.0.113.9', trusted)).toBe('203.0.113.9');
    expect(clientAddressOf('10.0.0.1', 'not an address, 203.0.113.9', trusted)).toBe('203.0.113.9');
  });

  it('takes the left-most hop when every hop is a trusted proxy', () => {
    expect(clientAddressOf('127.0.0.1', '10.0.0.3, 10.0.0.2', trusted)).toBe('10.0.0.3');
  });

  it('falls back to the peer when a hop it walks is malformed', () => {
    for (const header of [
      'junk',
      '',
      ' , ',
      '203.0.113.9, ',
      '203.0.113.9,,10.0.0.2',
      '203.0.113.9:4711',
      '[2001:db8::1]',
      'example.org',
      '203.0.113.9, 10.0.0.256',
      '203.0.113.9 10.0.0.2',
      '<script>',
      '1'.repeat(10_000),
    ]) {
      expect([header, clientAddressOf('127.0.0.1', header, trusted)]).toEqual([header, '127.0.0.1']);
    }
  });

  it('reads repeated headers as one list, right-most last', () => {
    expect(clientAddressOf('127.0.0.1', ['198.51.100.1', '203.0.113.9, 10.0.0.2'], trusted)).toBe(
      '203.0.113.9',
    );
    expect(clientAddressOf('127.0.0.1', ['203.0.113.9', 'junk'], trusted)).toBe('127.0.0.1');
  });

  it('keeps an IPv4-mapped IPv6 address as it came', () => {
    expect(clientAddressOf('127.0.0.1', '::ffff:203.0.113.9', trusted)).toBe('::ffff:203.0.113.9');
  });
});
