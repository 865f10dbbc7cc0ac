import { describe, expect, it } from 'vitest';
import { BatchDeadlineError, Batcher } from './batcher.ts';

/** A run function whose batches finish only when the test says so. */
function controlledRun() {
  const batches: { items: number[]; finish: (err?: Error) => void }[] = [];
  const run = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push({ items, finish: (err) => (err ? reject(err) : resolve(items.map((i) => `r${i}`))) });
    });
  return { batches, run };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Batcher', () => {
  it('runs a lone item at once, and groups the items that arrive meanwhile into the next batch', async () => {
    const { batches, run } = controlledRun();
    const b = new Batcher(run, { maxBatch: 10 });
    const first = b.submit(1);
    expect(batches.map((x) => x.items)).toEqual([[1]]);
    const rest = [b.submit(2), b.submit(3), b.submit(4)];
    await tick();
    expect(batches).toHaveLength(1);
    batches[0]!.finish();
    expect(await first).toBe('r1');
    await tick();
    expect(batches.map((x) => x.items)).toEqual([[1], [2, 3, 4]]);
    batches[1]!.finish();
    expect(await Promise.all(rest)).toEqual(['r2', 'r3', 'r4']);
  });

  it('caps a batch at maxBatch and keeps order', async () => {
    const { batches, run } = controlledRun();
    const b = new Batcher(run, { maxBatch: 2 });
    const all = [1, 2, 3, 4, 5].map((i) => b.submit(i));
    for (let i = 0; i < 3; i++) {
      await tick();
      batches[i]!.finish();
    }
    expect(await Promise.all(all)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect(batches.map((x) => x.items)).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('runs at most inFlight batches at a time', async () => {
    const { batches, run } = controlledRun();
    const b = new Batcher(run, { maxBatch: 1, inFlight: 2 });
    const all = [1, 2, 3].map((i) => b.submit(i));
    await tick();
    expect(batches.map((x) => x.items)).toEqual([[1], [2]]);
    batches[0]!.finish();
    await tick();
    expect(batches.map((x) => x.items)).toEqual([[1], [2], [3]]);
    batches[1]!.finish();
    batches[2]!.finish();
    expect(await Promise.all(all)).toEqual(['r1', 'r2', 'r3']);
  });

  it('rejects every item of a failed batch with its error, and goes on with the next batch', async () => {
    const { batches, run } = controlledRun();
    const b = new Batcher(run, { maxBatch: 10 });
    const first = b.submit(1);
    const second = [b.submit(2), b.submit(3)];
    batches[0]!.finish();
    await first;
    await tick();
    batches[1]!.finish(new Error('disk full'));
    for (const p of second) await expect(p).rejects.toThrow('disk full');
    const third = b.submit(4);
    batches[2]!.finish();
    expect(await third).toBe('r4');
  });

  it('rejects a batch whose run answers the wrong number of results', async () => {
    const b = new Batcher(async (items: number[]) => items.slice(1), { maxBatch: 10 });
    await expect(b.submit(1)).rejects.toThrow('0 results for 1 items');
  });

  it('a run that never settles is given up after its deadline, and later submits are served', async () => {
    const { batches, run } = controlledRun();
    const b = new Batcher(run, { maxBatch: 10, deadlineMs: 50 });
    const stuck = b.submit(1);
    const waiting = b.submit(2);
    const started = performance.now();
    await expect(stuck).rejects.toBeInstanceOf(BatchDeadlineError);
    expect(performance.now() - started).toBeLessThan(1000);
    // The next batch started without waiting for the stuck one.
    await tick();
    expect(batches.map((x) => x.items)).toEqual([[1], [2]]);
    batches[1]!.finish();
    expect(await waiting).toBe('r2');
    // The stuck run settling late changes nothing, and nothing is left unhandled.
    batches[0]!.finish(new Error('late'));
    await tick();
    const later = b.submit(3);
    batches[2]!.finish();
    expect(await later).toBe('r3');
  });

  it('every in-flight slot can be stuck: each is freed by its deadline', async () => {
    const { batches, run } = controlledRun();
    const b = new Batcher(run, { maxBatch: 1, inFlight: 2, deadlineMs: 50 });
    const stuck = [b.submit(1), b.submit(2)];
    for (const p of stuck) await expect(p).rejects.toBeInstanceOf(BatchDeadlineError);
    const next = b.submit(3);
    await tick();
    batches.at(-1)!.finish();
    expect(await next).toBe('r3');
  });

  it('a deadline of 0 waits for the run however long it takes', async () => {
    const { batches, run } = controlledRun();
    const b = new Batcher(run, { maxBatch: 1, deadlineMs: 0 });
    const p = b.submit(1);
    await new Promise((r) => setTimeout(r, 80));
    batches[0]!.finish();
    expect(await p).toBe('r1');
  });
});
