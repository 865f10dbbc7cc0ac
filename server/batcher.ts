/**
 * Batches work that arrives concurrently (group commit for writes, one query for many reads):
 * items submitted while a batch is running go together into the next one, so per-statement and
 * per-transaction costs (round trips, parsing, lock, fsync at commit) are paid once per batch
 * instead of once per item. An idle batcher runs a lone item at once, so nothing waits for company.
 * At most `inFlight` batches run at a time; a batch holds at most `maxBatch` items. `run` answers
 * one result per item, in order; if it throws, every item of that batch is rejected with the error.
 * A batch that has not settled within `deadlineMs` (a database that stopped answering) is rejected
 * with BatchDeadlineError and the next batch starts: one stuck run must not hold up every later
 * submit. What the late run finally does is ignored.
 */
export class Batcher<I, O> {
  static readonly DEFAULT_DEADLINE_MS = 30_000;

  readonly #queue: { item: I; resolve: (out: O) => void; reject: (err: unknown) => void }[] = [];
  #running = 0;

  constructor(
    private readonly run: (batch: I[]) => Promise<O[]>,
    private readonly opts: { maxBatch: number; inFlight?: number; deadlineMs?: number },
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#running < (this.opts.inFlight ?? 1)) void this.#drain();
    });
  }

  async #drain() {
    this.#running++;
    try {
      while (this.#queue.length) {
        const batch = this.#queue.splice(0, this.opts.maxBatch);
        try {
          const results = await this.#runWithin(batch.map((p) => p.item));
          if (results.length !== batch.length)
            throw new Error(`batcher: ${results.length} results for ${batch.length} items`);
          batch.forEach((p, i) => p.resolve(results[i]!));
        } catch (err) {
          batch.forEach((p) => p.reject(err));
        }
      }
    } finally {
      this.#running--;
    }
  }

  #runWithin(items: I[]): Promise<O[]> {
    let run: Promise<O[]>;
    try {
      run = this.run(items);
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

export class BatchDeadlineError extends Error {
  constructor(readonly ms: number) {
    super(`batch not done within ${ms} ms`);
    this.name = 'BatchDeadlineError';
  }
}
