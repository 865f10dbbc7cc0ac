/**
 * Batches work that arrives concurrently (group commit for writes, one query for many reads):
 * items submitted while a batch is running go together into the next one, so per-statement and
 * per-transaction costs (round trips, parsing, lock, fsync at commit) are paid once per batch
 * instead of once per item. An idle batcher runs a lone item at once, so nothing waits for company.
 * At most `inFlight` batches run at a time; a batch holds at most `maxBatch` items. `run` answers
 * one result per item, in order; if it throws, every item of that batch is rejected with the error.
 * A run may call `release()` once only its tail is left (a COMMIT in flight): the next batch then
 * starts at once, while it finishes. Bounded: a run that releases waits, before the batch after it
 * starts, until the released one before it has settled (one finishing + one running per slot),
 * and its items are answered after that one's: results arrive in batch order.
 * A batch that has not settled within `deadlineMs` (a database that stopped answering) is rejected
 * with BatchDeadlineError and the next batch starts: one stuck run must not hold up every later
 * submit. What the late run finally does is ignored.
 */
export class Batcher<I, O> {
  static readonly DEFAULT_DEADLINE_MS = 30_000;

  readonly #queue: Pending<I, O>[] = [];
  #running = 0;
  /** Drains that wait for their released batch to settle, woken when an item arrives meanwhile. */
  readonly #idle = new Set<() => void>();

  constructor(
    private readonly run: (batch: I[], release: () => void) => Promise<O[]>,
    private readonly opts: { maxBatch: number; inFlight?: number; deadlineMs?: number },
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      for (const wake of this.#idle) wake();
      if (this.#running < (this.opts.inFlight ?? 1)) void this.#drain();
    });
  }

  async #drain() {
    this.#running++;
    // This slot's released batch that has not settled yet.
    let finishing: Promise<void> | undefined;
    try {
      for (;;) {
        if (!this.#queue.length) {
          if (!finishing) return;
          // Idle with a batch still finishing: a new item starts at once, as on an idle batcher.
          let wake!: () => void;
          const arrived = new Promise<'arrived'>((r) => (wake = () => r('arrived')));
          this.#idle.add(wake);
          const first = await Promise.race([finishing.then(() => 'settled' as const), arrived]);
          this.#idle.delete(wake);
          if (first === 'settled') finishing = undefined;
          continue;
        }
        const batch = this.#queue.splice(0, this.opts.maxBatch);
        let release!: () => void;
        const released = new Promise<void>((r) => (release = r));
        const settled = this.#settle(
          batch,
          this.#runWithin(
            batch.map((p) => p.item),
            release,
          ),
          finishing,
        );
        await Promise.race([released, settled]);
        await finishing;
        finishing = settled;
      }
    } finally {
      this.#running--;
    }
  }

  /** Answers a batch's items, never before those of the batch before it (`earlier`): results keep batch order. */
  async #settle(batch: Pending<I, O>[], run: Promise<O[]>, earlier: Promise<void> | undefined) {
    let answer: () => void;
    try {
      const results = await run;
      if (results.length !== batch.length)
        throw new Error(`batcher: ${results.length} results for ${batch.length} items`);
      answer = () => batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (err) {
      answer = () => batch.forEach((p) => p.reject(err));
    }
    await earlier;
    answer();
  }

  #runWithin(items: I[], release: () => void): Promise<O[]> {
    let run: Promise<O[]>;
    try {
      run = this.run(items, release);
    } catch (err) {
      return Promise.reject(err);
    }
    const ms = this.opts.deadlineMs ?? Batcher.DEFAULT_DEADLINE_MS;
    if (!ms) return run;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new BatchDeadlineError(ms)), ms);
      run.then(
        (out) => (clearTimeout(timer), resolve(out)),
        (err: unknown) => (clearTimeout(timer), reject(err)),
      );
    });
  }
}

type Pending<I, O> = { item: I; resolve: (out: O) => void; reject: (err: unknown) => void };

export class BatchDeadlineError extends Error {
  constructor(readonly ms: number) {
    super(`batch not done within ${ms} ms`);
    this.name = 'BatchDeadlineError';
  }
}
