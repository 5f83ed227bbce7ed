import { isIP } from 'node:net';

/**
 * The client's address: the socket's peer, unless that peer is a trusted proxy, in which case `X-Forwarded-For` is
 * walked from the right (the hop the trusted peer itself added) past every trusted proxy, and the first address
 * that is not one is the client. Everything left of it was written by the client and is not believed. When every
 * hop is a trusted proxy, the left-most is the client.
 *
 * Every hop walked must be a plain IP address (`net.isIP`): a malformed one (a name, a port, an empty hop, junk)
 * means the header cannot be believed at all, and the peer's address is used instead of anything in it.
 */
export function clientAddressOf(
  peer: string | undefined,
  forwardedFor: string | readonly string[] | undefined,
  isTrustedProxy: (address: string) => boolean,
): string | undefined {
  if (peer === undefined || forwardedFor === undefined || !isTrustedProxy(peer)) return peer;
  // Node joins repeated X-Forwarded-For headers with ", "; a list (from other callers) means the same.
  const hops = (typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',')).split(',');
  let client = peer;
  for (let index = hops.length - 1; index >= 0; index--) {
    const hop = (hops[index] ?? '').trim();
    if (isIP(hop) === 0) return peer;
    client = hop;
    if (!isTrustedProxy(hop)) return hop;
  }
  return client;
}
