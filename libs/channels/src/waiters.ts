/**
 * FIFO of parked promise resolvers (readers waiting for an item, writers waiting for room).
 * A ring so that waking does not shift an array; it only allocates when it grows.
 */
export class WaiterQueue {
  private slots: (() => void)[] | (undefined | (() => void))[] = new Array<undefined>(4);
  private head = 0;
  size = 0;

  push(resolve: () => void): void {
    if (this.size === this.slots.length) this.grow();
    let tail = this.head + this.size;
    if (tail >= this.slots.length) tail -= this.slots.length;
    this.slots[tail] = resolve;
    this.size++;
  }

  wakeOne(): void {
    if (this.size === 0) return;
    const resolve = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = this.head + 1 === this.slots.length ? 0 : this.head + 1;
    this.size--;
    resolve?.();
  }

  wakeAll(): void {
    // Only the waiters parked now: one that parks again while being woken waits for the next wake.
    for (let n = this.size; n > 0; n--) this.wakeOne();
  }

  private grow(): void {
    const next = new Array<undefined | (() => void)>(this.slots.length * 2);
    for (let i = 0; i < this.size; i++) {
      let idx = this.head + i;
      if (idx >= this.slots.length) idx -= this.slots.length;
      next[i] = this.slots[idx];
    }
    this.slots = next;
    this.head = 0;
  }
}
