import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Response } from 'express';
import type { AppConfig } from '@artifactstore/config';
import type { Event, Registry } from '@artifactstore/registry';
import { EventsController } from './events.controller.js';
import { WaitingClients } from './waiting-clients.js';

/** A response whose client can leave: `closed` and `destroyed` as Node sets them, then `close`. */
class FakeResponse extends EventEmitter {
  closed = false;
  destroyed = false;

  clientLeaves(): void {
    this.closed = true;
    this.destroyed = true;
    this.emit('close');
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    signal.addEventListener('abort', () => {
      resolve();
    });
  });
}

/** A registry with no events: listEvents answers when told to, the tail yields nothing until its signal aborts. */
function emptyRegistry() {
  const pending: (() => void)[] = [];
  const registry = {
    listEvents: (): Promise<Event[]> =>
      new Promise((resolve) => {
        pending.push(() => {
          resolve([]);
        });
      }),
    tailEventBatches: (_since: number, options: { signal: AbortSignal }): AsyncIterable<Event[]> => ({
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<Event[]>> => {
          await aborted(options.signal);
          return { done: true, value: undefined };
        },
        return: (): Promise<IteratorResult<Event[]>> => Promise.resolve({ done: true, value: undefined }),
      }),
    }),
  };
  return {
    registry: registry as unknown as Registry,
    answerListEvents: (): void => {
      for (const answer of pending.splice(0)) answer();
    },
  };
}

/** How `promise` settles within `ms`: its value, or 'still waiting'. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  return Promise.race([promise, sleep(ms, 'still waiting' as const)]);
}

describe('EventsController long-poll', () => {
  let waitingClients: WaitingClients;

  beforeEach(() => {
    waitingClients = new WaitingClients({ maxWaitingClients: 1 } as AppConfig);
  });

  const query = { since: '5', wait: '30' };

  it('does not wait for a client that left while the events were being read, and frees its place', async () => {
    const { registry, answerListEvents } = emptyRegistry();
    const controller = new EventsController(registry, waitingClients);
    const response = new FakeResponse();
    const answered = controller.list(query, response as unknown as Response);
    await sleep(10);
    response.clientLeaves();
    answerListEvents();
    await sleep(10);
    answerListEvents();
    expect(await within(answered, 2000)).toEqual({ events: [], next_since: 5 });
    expect(waitingClients.count('long_poll')).toBe(0);
    // The one place (ARTIFACTSTORE_MAX_WAITING_CLIENTS=1) is free for the next client.
    const lease = waitingClients.tryAcquire('long_poll');
    expect(lease).toBeDefined();
    lease?.release();
  });

  it('takes no place for a client that had already left when the handler ran', async () => {
    const { registry, answerListEvents } = emptyRegistry();
    const controller = new EventsController(registry, waitingClients);
    const response = new FakeResponse();
    response.clientLeaves();
    const answered = controller.list(query, response as unknown as Response);
    answerListEvents();
    await sleep(10);
    answerListEvents();
    expect(await within(answered, 2000)).toEqual({ events: [], next_since: 5 });
    expect(waitingClients.count('long_poll')).toBe(0);
  });

  it('holds a client that stays, and frees its place when it leaves during the wait', async () => {
    const { registry, answerListEvents } = emptyRegistry();
    const controller = new EventsController(registry, waitingClients);
    const response = new FakeResponse();
    const answered = controller.list(query, response as unknown as Response);
    answerListEvents();
    await sleep(20);
    expect(await within(answered, 50)).toBe('still waiting');
    expect(waitingClients.count('long_poll')).toBe(1);
    response.clientLeaves();
    await sleep(10);
    answerListEvents();
    expect(await within(answered, 2000)).toEqual({ events: [], next_since: 5 });
    expect(waitingClients.count('long_poll')).toBe(0);
    expect(response.listenerCount('close')).toBe(0);
  });
});
