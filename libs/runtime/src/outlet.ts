import type { BoundedChannel } from '@cryptoflow/channels';

/**
 * Synchronous producers (operators emit rows through a callback) in front of a bounded channel.
 * `emit` never loses a row: when the channel refuses one (policy `wait`, channel full) the row waits in
 * `pending`, and the producer's loop awaits `settle()` before taking more input — so backpressure
 * reaches the raw channel and from there the socket, instead of growing memory.
 */
export class ChannelOutlet<T> {
  private readonly pending: T[] = [];
  private settling = false;

  constructor(private readonly channel: BoundedChannel<T>) {}

  /** Rows emitted while a backlog drains queue behind it, so order is kept. */
  readonly emit = (item: T): void => {
    if (this.settling || this.pending.length > 0 || !this.channel.offer(item)) this.pending.push(item);
  };

  get backlog(): number {
    return this.pending.length;
  }

  async settle(): Promise<void> {
    if (this.settling || this.pending.length === 0) return;
    this.settling = true;
    try {
      let head = 0;
      while (head < this.pending.length) {
        if (this.channel.offer(this.pending[head] as T)) head++;
        else await this.channel.writable();
      }
      this.pending.length = 0;
    } finally {
      this.settling = false;
    }
  }
}
