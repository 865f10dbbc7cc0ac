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
    const checks = await Promise.all(hashes.flatMap((h, i) => [hasher.verify(h, `password-${i}`), hasher.verify(h, `password-${i + 1}`)]));
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
