import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count } from 'drizzle-orm';
import { careRelationships, clinicMembers, clinics, consultTypes, users } from '../../db/schema/index.ts';
import {
  codeIn,
  lastMessage,
  startIdentityHarness,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';
import { DEMO_ACCOUNTS, seedDemo } from './demo-seed.ts';

describe('demo seed', () => {
  let h: IdentityHarness;
  beforeAll(async () => {
    h = await startIdentityHarness();
  });
  afterAll(() => h.close());

  const counts = async () =>
    Promise.all(
      [clinics, users, clinicMembers, careRelationships, consultTypes].map(
        async (t) => (await h.db.select({ n: count() }).from(t))[0]!.n,
      ),
    );

  it('is idempotent and its accounts sign in with the printed passwords', async () => {
    expect(await seedDemo(h.db, h.identity.passwords)).toEqual({ created: true });
    const first = await counts();
    expect(first).toEqual([1, 3, 3, 1, 1]);
    expect(await seedDemo(h.db, h.identity.passwords)).toEqual({ created: false });
    expect(await counts()).toEqual(first);
    for (const a of DEMO_ACCOUNTS) {
      const start = await h.call('POST', '/api/auth/login', {
        body: { email: a.email, password: a.password },
      });
      const code = codeIn((await lastMessage(h.db, a.email))!.body);
      const done = await h.call('POST', '/api/auth/mfa', {
        body: { challengeId: start.body.challengeId, code },
      });
      expect((await h.call('GET', '/api/me', { token: done.body.accessToken })).body.role).toBe(a.role);
    }
  });
});
