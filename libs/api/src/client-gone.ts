import type { Response } from 'express';

/**
 * Calls `leave` once when the client's connection closes, at once if it already has, and returns what stops
 * listening. Attach it before the handler's first await: a `close` listener added after the connection closed
 * never fires, and whatever waits for it (a long-poll's place, a stream's tail) would be held for nothing.
 */
export function onClientGone(response: Response, leave: () => void): () => void {
  if (response.closed || response.destroyed) {
    leave();
    return () => undefined;
  }
  response.once('close', leave);
  return () => {
    response.off('close', leave);
  };
}
