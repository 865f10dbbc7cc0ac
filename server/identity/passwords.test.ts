import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PasswordHasher } from './passwords.ts';

describe('password hashing on worker threads', () => {
  let hasher: PasswordHasher;
  beforeAll(async () => {
    hasher = await PasswordHasher.create('minimum');
  });
  afterAll(() => hasher.close());

  it('hashes with argon2id and verifies the right password only', async () => {
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$/);
    expect(await hasher.verify(hash, 'correct horse battery staple')).toBe(true);
    expect(await hasher.verify(hash, 'correct horse battery stapler')).toBe(false);
    expect(hasher.needsRehash(hash)).toBe(false);
  });

  it('a missing or malformed stored hash verifies nothing (and still does the work)', async () => {
    expect(await hasher.verify(null, 'anything')).toBe(false);
    expect(await hasher.verify(undefined, 'anything')).toBe(false);
    expect(await hasher.verify('$argon2id$garbage', 'anything')).toBe(false);
  });

  it('serves many requests at once, each with its own answer', async () => {
    const hashes = await Promise.all(Array.from({ length: 8 }, (_, i) => hasher.hash(`password-${i}`)));
    const checks = await Promise.all(
      hashes.flatMap((h, i) => [hasher.verify(h, `password-${i}`), hasher.verify(h, `password-${i + 1}`)]),
    );
    expect(checks).toEqual(hashes.flatMap(() => [true, false]));
  });

  it('a hashing thread that dies is replaced: later requests are still answered', async () => {
    const hash = await hasher.hash('survives');
    await hasher.crashThread();
    const checks = await Promise.all(Array.from({ length: 4 }, () => hasher.verify(hash, 'survives')));
    expect(checks).toEqual([true, true, true, true]);
  });

  it('a stronger setting asks for a rehash of a weaker hash', async () => {
    const strong = await PasswordHasher.create('interactive');
    try {
      expect(strong.needsRehash(await hasher.hash('x'))).toBe(true);
    } finally {
      await strong.close();
    }
  });
});

describe('the bounded, two-lane queue in front of the hashing threads', () => {
  // Interactive strength: each hash takes long enough (tens of ms or more) for queues to form.
  const slow = (queue: { limit: number; maxWaitMs: number }) => PasswordHasher.create('interactive', queue);
  const outcome = (p: Promise<unknown>) =>
    p.then(
      () => 'done',
      (err: { status?: number; code?: string; retryAfterSeconds?: number }) =>
        `${err.status} ${err.code} ${err.retryAfterSeconds}`,
    );

  it('a full lane refuses at once with a typed 503 and Retry-After; the other lane is unaffected', async () => {
    const hasher = await slow({ limit: 3, maxWaitMs: 60_000 });
    try {
      const flood = Array.from({ length: 10 }, () => outcome(hasher.verify(null, 'guess', 'unknown')));
      const known = outcome(hasher.verify(null, 'mine', 'known'));
      const results = await Promise.all(flood);
      // One runs at once (the last free thread is kept for known work), three wait, six are shed.
      expect(results.filter((r) => r === 'done')).toHaveLength(4);
      expect(results.filter((r) => r === '503 overloaded 2')).toHaveLength(6);
      expect(await known).toBe('done');
    } finally {
      await hasher.close();
    }
  });

  it('a job that cannot start within the longest wait is shed instead of waiting on', async () => {
    const hasher = await slow({ limit: 100, maxWaitMs: 50 });
    try {
      const results = await Promise.all(
        Array.from({ length: 8 }, () => outcome(hasher.verify(null, 'guess', 'unknown'))),
      );
      expect(results[0]).toBe('done');
      expect(results.filter((r) => r === '503 overloaded 2').length).toBeGreaterThanOrEqual(5);
      expect(hasher.load().unknown).toMatchObject({ waiting: 0, running: 0 });
    } finally {
      await hasher.close();
    }
  });

  it('known work starts ahead of a queue of unknown work, on the thread unknown work may not take', async () => {
    const hasher = await slow({ limit: 50, maxWaitMs: 60_000 });
    try {
      const finished: string[] = [];
      const flood = Array.from({ length: 6 }, (_, i) =>
        hasher.verify(null, 'guess', 'unknown').then(() => finished.push(`unknown${i}`)),
      );
      const known = hasher.verify(null, 'mine', 'known').then(() => finished.push('known'));
      expect(hasher.load()).toMatchObject({
        known: { running: 1, waiting: 0 },
        unknown: { running: 1, waiting: 5 },
      });
      await Promise.all([...flood, known]);
      expect(finished.indexOf('known')).toBeLessThanOrEqual(1);
    } finally {
      await hasher.close();
    }
  });
});
