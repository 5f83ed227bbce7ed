/**
 * A point in a call that the test holds shut: the first call that matches arrives, says so (`arrived`), and waits
 * until the test opens the gate. Every other call passes straight through. Used to freeze the collector inside
 * its delete, or a file commit inside its `ensureStored`, while both hold the append lock.
 */
export class Gate<A extends unknown[]> {
  /** Resolves with the arguments of the call that reached the gate. */
  readonly arrived: Promise<A>;
  private arrive!: (args: A) => void;
  private opened!: () => void;
  private readonly open: Promise<void>;
  private taken = false;

  constructor(private readonly matches: (...args: A) => boolean) {
    this.arrived = new Promise((resolve) => (this.arrive = resolve));
    this.open = new Promise((resolve) => (this.opened = resolve));
  }

  /** Lets the held call (and every later one) go on. */
  release(): void {
    this.opened();
  }

  /** Waits at the gate when this is the first matching call; otherwise returns at once. */
  async pass(...args: A): Promise<void> {
    if (this.taken || !this.matches(...args)) return;
    this.taken = true;
    this.arrive(args);
    await this.open;
  }
}

/** A method of one object, replaced for a test; `restore` puts the original back. */
export interface Interception {
  restore(): void;
}

/**
 * Replaces `target[name]` on the instance (not the prototype) with `wrapper`, which gets the original bound to the
 * instance. Nest hands every consumer the same instance, so the registry's services see the replacement.
 */
export function intercept<T extends object, K extends keyof T>(
  target: T,
  name: K,
  wrapper: (original: T[K]) => T[K],
): Interception {
  const own = Object.prototype.hasOwnProperty.call(target, name);
  const previous = target[name];
  const original = (typeof previous === 'function' ? previous.bind(target) : previous) as T[K];
  target[name] = wrapper(original);
  return {
    restore: () => {
      if (own) target[name] = previous;
      else Reflect.deleteProperty(target, name);
    },
  };
}
