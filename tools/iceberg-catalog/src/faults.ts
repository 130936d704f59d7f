/** Fault injection on table commits (POST .../tables/{table}), consumed one per commit request in order. */
export type CommitFailureStatus = 500 | 502 | 504 | 409;

interface Planned {
  readonly kind: 'fail' | 'delay';
  readonly status?: CommitFailureStatus;
  readonly delayMs?: number;
  /** Apply the commit, then fail/delay the answer: "committed but the client never heard". */
  readonly apply: boolean;
}

export interface CommitFaultStats {
  /** Commit requests received. */
  received: number;
  /** Commits that changed the table (including ones whose answer was then failed or delayed). */
  applied: number;
  /** Commits answered with an injected failure. */
  injected: number;
  /** Commits rejected because a requirement failed (real 409s). */
  conflicts: number;
}

export class CatalogFaults {
  private readonly queue: Planned[] = [];
  private readonly hooks: (() => Promise<void>)[] = [];
  readonly stats: CommitFaultStats = { received: 0, applied: 0, injected: 0, conflicts: 0 };

  /** The next `n` commits answer `status` (with the spec's error body). `applyBeforeFailing` commits first. */
  failNextCommits(
    n: number,
    status: CommitFailureStatus,
    options: { applyBeforeFailing?: boolean } = {},
  ): void {
    for (let i = 0; i < n; i++)
      this.queue.push({ kind: 'fail', status, apply: options.applyBeforeFailing ?? false });
  }

  /** The next `n` commits answer only after `delayMs` (client timeouts). `applyBeforeDelay` commits first. */
  delayNextCommits(n: number, delayMs: number, options: { applyBeforeDelay?: boolean } = {}): void {
    for (let i = 0; i < n; i++)
      this.queue.push({ kind: 'delay', delayMs, apply: options.applyBeforeDelay ?? true });
  }

  /** Run `fn` when the next commit arrives, before it is validated: a competing writer that wins the race. */
  beforeNextCommit(fn: () => Promise<void>): void {
    this.hooks.push(fn);
  }

  reset(): void {
    this.queue.length = 0;
    this.hooks.length = 0;
    this.stats.received = this.stats.applied = this.stats.injected = this.stats.conflicts = 0;
  }

  /** @internal */
  takeHook(): (() => Promise<void>) | undefined {
    return this.hooks.shift();
  }

  /** @internal */
  take(): Planned | undefined {
    return this.queue.shift();
  }
}
