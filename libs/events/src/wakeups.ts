/** One tail's wake-up channel: `wait` returns on a wake-up, a timeout or an abort, whichever comes first. */
export interface WakeupSubscription {
  wait(timeoutMs: number, signal?: AbortSignal): Promise<void>;
  close(): void;
}

/**
 * Fans "the log may have grown" out to every waiting tail. A wake-up that arrives while a tail is busy reading is
 * remembered, so the tail looks again at once instead of sleeping through it.
 */
export class Wakeups {
  private readonly subscribers = new Set<Subscriber>();

  get size(): number {
    return this.subscribers.size;
  }

  subscribe(): WakeupSubscription {
    const subscriber = new Subscriber();
    this.subscribers.add(subscriber);
    return {
      wait: (timeoutMs, signal) => subscriber.wait(timeoutMs, signal),
      close: () => {
        subscriber.wake();
        this.subscribers.delete(subscriber);
      },
    };
  }

  wakeAll(): void {
    for (const subscriber of this.subscribers) subscriber.wake();
  }
}

class Subscriber {
  private pending = false;
  private resolve: (() => void) | undefined;

  wake(): void {
    if (this.resolve) {
      const resolve = this.resolve;
      this.resolve = undefined;
      resolve();
    } else {
      this.pending = true;
    }
  }

  wait(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.pending || signal?.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        this.resolve = undefined;
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      signal?.addEventListener('abort', finish, { once: true });
      this.resolve = finish;
    });
  }
}
