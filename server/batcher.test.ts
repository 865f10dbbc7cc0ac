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

/** Like controlledRun, and each batch can also release the next one before it finishes. */
function releasingRun() {
  const batches: { items: number[]; release: () => void; finish: () => void }[] = [];
  const run = (items: number[], release: () => void) =>
    new Promise<string[]>((resolve) => {
      batches.push({ items, release, finish: () => resolve(items.map((i) => `r${i}`)) });
    });
  return { batches, run };
}

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

  it('a released batch lets the next one start before it finishes, and their items are answered in batch order', async () => {
    const { batches, run } = releasingRun();
    const b = new Batcher(run, { maxBatch: 10 });
    const answered: string[] = [];
    const track = (p: Promise<string>) => p.then((r) => void answered.push(r));
    const first = track(b.submit(1));
    const second = [b.submit(2), b.submit(3)].map(track);
    await tick();
    expect(batches.map((x) => x.items)).toEqual([[1]]);
    batches[0]!.release();
    await tick();
    expect(batches.map((x) => x.items)).toEqual([[1], [2, 3]]);
    // The second finishes first; its items still wait for the first batch's.
    batches[1]!.finish();
    await tick();
    expect(answered).toEqual([]);
    batches[0]!.finish();
    await Promise.all([first, ...second]);
    expect(answered).toEqual(['r1', 'r2', 'r3']);
  });

  it('at most one released batch finishing and one running: a third waits for the first to finish', async () => {
    const { batches, run } = releasingRun();
    const b = new Batcher(run, { maxBatch: 1 });
    const all = [1, 2, 3].map((i) => b.submit(i));
    await tick();
    batches[0]!.release();
    await tick();
    batches[1]!.release();
    await tick();
    expect(batches.map((x) => x.items)).toEqual([[1], [2]]);
    batches[0]!.finish();
    await tick();
    expect(batches.map((x) => x.items)).toEqual([[1], [2], [3]]);
    batches[1]!.finish();
    batches[2]!.finish();
    expect(await Promise.all(all)).toEqual(['r1', 'r2', 'r3']);
  });

  it('an item that arrives while a released batch finishes, with nothing queued, starts at once', async () => {
    const { batches, run } = releasingRun();
    const b = new Batcher(run, { maxBatch: 10 });
    const first = b.submit(1);
    batches[0]!.release();
    await tick();
    const second = b.submit(2);
    await tick();
    expect(batches.map((x) => x.items)).toEqual([[1], [2]]);
    batches[0]!.finish();
    batches[1]!.finish();
    expect(await Promise.all([first, second])).toEqual(['r1', 'r2']);
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
