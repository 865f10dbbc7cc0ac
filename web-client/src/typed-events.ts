/** An event map: event name -> listener signature. */
export type EventMap = { [event: string]: (...args: never[]) => void };

type AnyListener = (...args: unknown[]) => void;

/**
 * The one event mechanism of the client core: several listeners per event (the room page, an
 * embedded widget and a test can all listen to the same client), typed by an event map.
 *
 * A listener that throws must not break the media flow or starve the listeners after it: its
 * error goes to `listenerFailed` (owners override it, usually to emit their own 'error' event).
 */
export class TypedEvents<M extends EventMap> {
  readonly #listeners = new Map<keyof M, Set<AnyListener>>();

  /** A listener threw; the default drops the error (owners with an 'error' event report it there). */
  protected listenerFailed(_err: Error, _event: keyof M): void {}

  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof M>(event: E, listener: M[E]): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as unknown as AnyListener);
    return () => this.off(event, listener);
  }

  off<E extends keyof M>(event: E, listener: M[E]): void {
    this.#listeners.get(event)?.delete(listener as unknown as AnyListener);
  }

  /** A listener called for the next emission only. */
  once<E extends keyof M>(event: E, listener: M[E]): () => void {
    const wrapper = ((...args: Parameters<M[E]>) => {
      off();
      (listener as unknown as AnyListener)(...args);
    }) as unknown as M[E];
    const off = this.on(event, wrapper);
    return off;
  }

  /** Resolves with the arguments of the next emission of `event`. */
  next<E extends keyof M>(event: E): Promise<Parameters<M[E]>> {
    return new Promise((resolve) =>
      this.once(event, ((...args: Parameters<M[E]>) => resolve(args)) as never),
    );
  }

  listenerCount(event: keyof M): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }

  /** Calls every listener of `event` in the order they were added (a snapshot: changes apply next time). */
  emit<E extends keyof M>(event: E, ...args: Parameters<M[E]>): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (err) {
        this.listenerFailed(err instanceof Error ? err : new Error(String(err)), event);
      }
    }
  }
}
