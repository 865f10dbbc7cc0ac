import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mfaChallenges, notificationOutbox } from '../../db/schema/index.ts';
import {
  codeIn,
  createClinic,
  createUser,
  lastMessage,
  PASSWORD,
  signIn,
  startIdentityHarness,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';

/** Sign-in and invitation routes under abuse, as an attacker would try them, on a real PostgreSQL database. */
describe('abuse limits on the routes that hash or send mail', () => {
  let h: IdentityHarness;
  let clinicId: string;
  const randomToken = () => randomBytes(32).toString('base64url');
  const ipN = (n: number) => `198.18.${Math.floor(n / 250)}.${(n % 250) + 1}`;

  beforeAll(async () => {
    h = await startIdentityHarness();
    clinicId = await createClinic(h.db, 'Abuse clinic');
  });
  afterAll(() => h.close());

  it('invitation accept with made-up tokens never reaches the hashing threads, and the address is limited', async () => {
    const strict = await h.another({ LOGIN_RATE_LIMIT_PER_MINUTE: '5' });
    const before = strict.identity.passwords.load();
    const floods = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        strict.call('POST', '/api/invitations/accept', {
          body: { token: randomToken(), displayName: 'X', password: 'a-long-password-123' },
          ip: ipN(i),
        }),
      ),
    );
    expect(floods.every((r) => r.status === 410 && r.body.code === 'invitation_invalid')).toBe(true);
    const after = strict.identity.passwords.load();
    expect(after.unknown.started + after.known.started).toBe(before.unknown.started + before.known.started);
    // One address: five made-up tokens, then 429 with Retry-After and the request id.
    for (let i = 0; i < 5; i++)
      await strict.call('POST', '/api/invitations/accept', {
        body: { token: randomToken(), displayName: 'X', password: 'a-long-password-123' },
        ip: '192.0.2.200',
      });
    const limited = await strict.call('POST', '/api/invitations/accept', {
      body: { token: randomToken(), displayName: 'X', password: 'a-long-password-123' },
      ip: '192.0.2.200',
    });
    expect([limited.status, limited.body.code]).toEqual([429, 'rate_limited']);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.body.requestId).toBe(limited.headers.get('x-request-id'));
  });

  it('unauthenticated sign-in work is admitted a bounded number at a time: the rest get 503 at once', async () => {
    const narrow = await h.another({ SIGN_IN_CONCURRENCY: '4' });
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        narrow.call('POST', '/api/invitations/accept', {
          body: { token: randomToken(), displayName: 'X', password: 'a-long-password-123' },
          ip: ipN(700 + i),
        }),
      ),
    );
    const shed = answers.filter((r) => r.status === 503);
    expect(shed.length).toBeGreaterThan(0);
    expect(
      answers.every(
        (r) =>
          r.status === 410 ||
          (r.status === 503 && r.body.code === 'overloaded' && r.headers.get('retry-after') === '2'),
      ),
    ).toBe(true);
    expect(narrow.identity.admission.load()).toEqual({ known: 0, unknown: 0 });
  });

  it('thirty staff behind one address all sign in at shift start (the address limit counts failures only)', async () => {
    const clinic = await h.another({ LOGIN_RATE_LIMIT_PER_MINUTE: '20' });
    const staff = await Promise.all(
      Array.from({ length: 30 }, () => createUser(h.identity, h.db, { role: 'doctor', clinicId })),
    );
    const sessions = await Promise.all(
      staff.map((u) => signIn(clinic.call, h.db, u.email, PASSWORD, '203.0.113.77')),
    );
    expect(sessions.every((s) => typeof s.accessToken === 'string')).toBe(true);
    // Failures from that address still count: 20 wrong passwords, then the address is limited.
    for (let i = 0; i < 20; i++)
      await clinic.call('POST', '/api/auth/login', {
        body: { email: `nobody${i}@example.test`, password: 'wrong-password-1' },
        ip: '203.0.113.78',
      });
    const r = await clinic.call('POST', '/api/auth/login', {
      body: { email: staff[0]!.email, password: PASSWORD },
      ip: '203.0.113.78',
    });
    expect([r.status, r.body.code]).toEqual([429, 'rate_limited']);
  });

  it('code guesses are bounded per account whatever the number of challenges; a new challenge voids older ones', async () => {
    const u = await createUser(h.identity, h.db, { role: 'patient', clinicId });
    // In parallel at most LOGIN_MAX_FAILURES password checks of one account run at once; one after another, twelve open.
    const parallel = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        h.call('POST', '/api/auth/login', { body: { email: u.email, password: PASSWORD }, ip: ipN(100 + i) }),
      ),
    );
    expect(parallel.every((s) => s.status === 200 || s.body.code === 'account_locked')).toBe(true);
    const starts: Awaited<ReturnType<typeof h.call>>[] = [];
    for (let i = 0; i < 12; i++)
      starts.push(
        await h.call('POST', '/api/auth/login', {
          body: { email: u.email, password: PASSWORD },
          ip: ipN(120 + i),
        }),
      );
    expect(starts.every((s) => s.status === 200)).toBe(true);
    const open = await h.db.select().from(mfaChallenges).where(eq(mfaChallenges.userId, u.id));
    expect(open.filter((c) => !c.consumedAt)).toHaveLength(1);
    const latest = open.find((c) => !c.consumedAt)!.id;
    const code = codeIn((await lastMessage(h.db, u.email))!.body)!;
    const wrong = code === '000000' ? '000001' : '000000';
    // 60 wrong codes, in parallel, on the open challenge and on the voided ones, from many addresses.
    const guesses = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        h.call('POST', '/api/auth/mfa', {
          body: { challengeId: i % 2 ? latest : starts[i % 12]!.body.challengeId, code: wrong },
          ip: ipN(200 + i),
        }),
      ),
    );
    const codes = guesses.map((g) => g.body.code);
    expect(codes.filter((c) => c === 'invalid_code').length).toBeLessThanOrEqual(5);
    expect(codes.every((c) => ['invalid_code', 'account_locked', 'challenge_invalid'].includes(c))).toBe(
      true,
    );
    // Locked now: even the right code is refused (423 with Retry-After).
    const right = await h.call('POST', '/api/auth/mfa', {
      body: { challengeId: latest, code },
      ip: ipN(300),
    });
    expect([right.status, right.body.code]).toEqual([423, 'account_locked']);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('the code step applies the address limit', async () => {
    const strict = await h.another({ LOGIN_RATE_LIMIT_PER_MINUTE: '3' });
    const u = await createUser(h.identity, h.db, { role: 'patient', clinicId });
    const start = await strict.call('POST', '/api/auth/login', {
      body: { email: u.email, password: PASSWORD },
      ip: '192.0.2.210',
    });
    const code = codeIn((await lastMessage(h.db, u.email))!.body)!;
    const wrong = code === '123456' ? '654321' : '123456';
    for (let i = 0; i < 3; i++)
      await strict.call('POST', '/api/auth/mfa', {
        body: { challengeId: start.body.challengeId, code: wrong },
        ip: '192.0.2.211',
      });
    const r = await strict.call('POST', '/api/auth/mfa', {
      body: { challengeId: start.body.challengeId, code },
      ip: '192.0.2.211',
    });
    expect([r.status, r.body.code]).toEqual([429, 'rate_limited']);
  });

  it('an account is sent at most LOGIN_CODES_PER_WINDOW code messages per window', async () => {
    const strict = await h.another({ LOGIN_CODES_PER_WINDOW: '3' });
    const u = await createUser(h.identity, h.db, { role: 'patient', clinicId });
    for (let i = 0; i < 3; i++)
      expect(
        (
          await strict.call('POST', '/api/auth/login', {
            body: { email: u.email, password: PASSWORD },
            ip: ipN(400 + i),
          })
        ).status,
      ).toBe(200);
    const fourth = await strict.call('POST', '/api/auth/login', {
      body: { email: u.email, password: PASSWORD },
      ip: ipN(404),
    });
    expect([fourth.status, fourth.body.code]).toEqual([429, 'too_many_codes']);
    expect(Number(fourth.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(
      await h.db.select().from(notificationOutbox).where(eq(notificationOutbox.recipient, u.email)),
    ).toHaveLength(3);
  });

  it('a known browser signs in while an attacker has locked the account for everyone else', async () => {
    const u = await createUser(h.identity, h.db, { role: 'doctor', clinicId });
    const first = await h.call('POST', '/api/auth/login', { body: { email: u.email, password: PASSWORD } });
    const done = await h.call('POST', '/api/auth/mfa', {
      body: { challengeId: first.body.challengeId, code: codeIn((await lastMessage(h.db, u.email))!.body)! },
    });
    const cookie = /carecall_device=([^;]+)/.exec(done.headers.get('set-cookie') ?? '')?.[1];
    expect(done.headers.get('set-cookie')).toMatch(/HttpOnly.*Secure|Secure.*HttpOnly/);
    expect(cookie).toMatch(/^[A-Za-z0-9_-]{32,}\.[0-9a-f]{32}$/);
    for (let i = 0; i < 5; i++)
      await h.call('POST', '/api/auth/login', {
        body: { email: u.email, password: 'attacker-guess-1' },
        ip: ipN(500 + i),
      });
    const stranger = await h.call('POST', '/api/auth/login', {
      body: { email: u.email, password: PASSWORD },
      ip: ipN(510),
    });
    expect([stranger.status, stranger.body.code]).toEqual([423, 'account_locked']);
    const owner = await h.call('POST', '/api/auth/login', {
      body: { email: u.email, password: PASSWORD },
      headers: { cookie: `carecall_device=${cookie}` },
    });
    expect(owner.status).toBe(200);
    const code = codeIn((await lastMessage(h.db, u.email))!.body)!;
    const signedIn = await h.call('POST', '/api/auth/mfa', {
      body: { challengeId: owner.body.challengeId, code },
      headers: { cookie: `carecall_device=${cookie}` },
    });
    expect(signedIn.status).toBe(200);
    // A made-up device cookie, or a real device id with a made-up signature, is no one's known browser.
    for (const fake of [randomToken(), `${cookie!.split('.')[0]}.${'0'.repeat(32)}`]) {
      const forged = await h.call('POST', '/api/auth/login', {
        body: { email: u.email, password: PASSWORD },
        ip: ipN(511),
        headers: { cookie: `carecall_device=${fake}` },
      });
      expect(forged.body.code).toBe('account_locked');
    }
  });

  it('changing the password to the same one is refused (422 password_unchanged); wrong current passwords lock the change', async () => {
    const u = await createUser(h.identity, h.db, { role: 'operator', clinicId });
    const { accessToken } = await signIn(h.call, h.db, u.email);
    const same = await h.call('POST', '/api/me/password', {
      token: accessToken,
      body: { currentPassword: PASSWORD, newPassword: PASSWORD },
    });
    expect([same.status, same.body.code, same.body.errors?.[0]?.field]).toEqual([
      422,
      'password_unchanged',
      'newPassword',
    ]);
    for (let i = 0; i < 5; i++) {
      const wrong = await h.call('POST', '/api/me/password', {
        token: accessToken,
        body: { currentPassword: `wrong-password-${i}`, newPassword: 'another-long-password-2' },
      });
      expect(wrong.status).toBe(400);
    }
    const locked = await h.call('POST', '/api/me/password', {
      token: accessToken,
      body: { currentPassword: PASSWORD, newPassword: 'another-long-password-2' },
    });
    expect([locked.status, locked.body.code]).toEqual([423, 'account_locked']);
  });

  it('invitation e-mails are limited per inviting account', async () => {
    const strict = await h.another({ INVITATION_MAILS_PER_HOUR: '2' });
    const admin = await createUser(h.identity, h.db, { role: 'clinic_admin', clinicId });
    const { accessToken } = await signIn(strict.call, h.db, admin.email, PASSWORD, '192.0.2.230');
    const invite = (i: number) =>
      strict.call('POST', `/api/clinics/${clinicId}/invitations`, {
        token: accessToken,
        body: { role: 'doctor', email: `invitee-${i}-${admin.id.slice(0, 6)}@example.test` },
        ip: ipN(600 + i),
      });
    expect([(await invite(1)).status, (await invite(2)).status]).toEqual([201, 201]);
    const third = await invite(3);
    expect([third.status, third.body.code]).toEqual([429, 'too_many_invitations']);
  });

  it('an error answer carries the request id in its body, and the log lines of that request carry it too', async () => {
    const lost = await startIdentityHarness();
    await lost.handle.close();
    try {
      const r = await lost.call('POST', '/api/auth/login', {
        body: { email: 'someone@example.test', password: PASSWORD },
      });
      expect(r.status).toBeGreaterThanOrEqual(500);
      expect(r.body.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.body.requestId).toBe(r.headers.get('x-request-id'));
      const lines = lost.logs.lines.map((l) => JSON.parse(l)).filter((l) => l.level >= 40);
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.every((l) => l.requestId === r.body.requestId)).toBe(true);
    } finally {
      await lost.close().catch(() => {});
    }
  });
});
