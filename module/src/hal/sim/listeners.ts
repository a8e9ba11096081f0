/**
 * A listener list for the HAL's `onX(listener) → unsubscribe` style: no EventEmitter in the
 * interfaces, so a driver in any runtime can implement them.
 */
export class Listeners<T> {
  readonly #listeners = new Set<(value: T) => void>();

  add(listener: (value: T) => void): () => void {
    // Wrapped, so the same function added twice is called twice and removed once per call.
    const entry = (value: T) => listener(value);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  get size(): number {
    return this.#listeners.size;
  }

  /** Calls every listener; one that throws does not keep the others from hearing it. */
  emit(value: T): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(value);
      } catch (error) {
        // Reported as a throwing Node event listener would be, outside the driver's own code.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
