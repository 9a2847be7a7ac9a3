/** An unbounded async queue: producers push, one consumer iterates until close(). */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: ((result: IteratorResult<T>) => void) | undefined;
  private closed = false;

  /** Add an item; ignored once the queue is closed. */
  push(item: T): void {
    if (this.closed) return;
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  /** End the queue: the consumer gets what is queued, then the end. */
  close(): void {
    this.closed = true;
    const waiter = this.waiter;
    if (waiter !== undefined && this.items.length === 0) {
      this.waiter = undefined;
      waiter({ value: undefined, done: true });
    }
  }

  private abandon(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.items.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
      // The consumer stopped (return) or failed (throw; Connect calls it when the RPC fails):
      // either way nothing more will be read.
      return: () => this.abandon(),
      throw: () => this.abandon(),
    };
  }
}
