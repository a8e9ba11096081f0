/**
 * Runs async operations one at a time, in call order. A store's read-modify-write steps (slot
 * metadata, the committed offset) must not interleave, and a queue is simpler to reason about
 * under power cuts than finer locks.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.tail.then(operation, operation);
    // The next operation waits for this one whether it succeeded or failed.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
