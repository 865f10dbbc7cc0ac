/**
 * Batches work that arrives concurrently (group commit for writes, one query for many reads):
 * items submitted while a batch is running go together into the next one, so per-statement and
 * per-transaction costs (round trips, parsing, lock, fsync at commit) are paid once per batch
 * instead of once per item. An idle batcher runs a lone item at once, so nothing waits for company.
 * At most `inFlight` batches run at a time; a batch holds at most `maxBatch` items. `run` answers
 * one result per item, in order; if it throws, every item of that batch is rejected with the error.
 */
export class Batcher<I, O> {
  readonly #queue: { item: I; resolve: (out: O) => void; reject: (err: unknown) => void }[] = [];
  #running = 0;

  constructor(
    private readonly run: (batch: I[]) => Promise<O[]>,
    private readonly opts: { maxBatch: number; inFlight?: number },
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
          const results = await this.run(batch.map((p) => p.item));
          if (results.length !== batch.length) throw new Error(`batcher: ${results.length} results for ${batch.length} items`);
          batch.forEach((p, i) => p.resolve(results[i]!));
        } catch (err) {
          batch.forEach((p) => p.reject(err));
        }
      }
    } finally {
      this.#running--;
    }
  }
}
