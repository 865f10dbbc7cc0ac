import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signCheckpoint } from '../audit/checkpoints.ts';
import { loadAuthKeys } from './access-tokens.ts';
import { eq } from 'drizzle-orm';
import { invitations, sessions, users } from '../../db/schema/index.ts';
import { totpAt, base32Decode } from './totp.ts';
import {
  codeIn,
  createClinic,
  createUser,
  lastMessage,
  PASSWORD,
  relate,
  signIn,
  startIdentityHarness,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';

/** Happy path and bad input for every identity endpoint, on a real PostgreSQL database. */
describe('identity API', () => {
  let h: IdentityHarness;
  let clinicId: string;
  let admin: { id: string; email: string };
  let clinicAdmin: { id: string; email: string };
  let doctor: { id: string; email: string };
  let operator: { id: string; email: string };
  const tok: Record<string, string> = {};

  const expectFieldError = (r: { status: number; contentType: string; body: any }, field: string) => {
    expect(r.status).toBe(400);
    expect(r.contentType).toContain('application/problem+json');
    expect(r.body.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ field, message: expect.any(String) })]),
    );
  };

  beforeAll(async () => {
    h = await startIdentityHarness();
    clinicId = await createClinic(h.db, 'Main clinic');
    admin = await createUser(h.identity, h.db, { role: 'admin' });
    clinicAdmin = await createUser(h.identity, h.db, { role: 'clinic_admin', clinicId });
    doctor = await createUser(h.identity, h.db, { role: 'doctor', clinicId });
    operator = await createUser(h.identity, h.db, { role: 'operator', clinicId });
    for (const [k, u] of Object.entries({ admin, clinicAdmin, doctor, operator }))
      tok[k] = (await signIn(h.call, h.db, u.email)).accessToken;
  });
  afterAll(() => h.close());

  describe('auth', () => {
    it('login: password then e-mailed code; the code is single-use', async () => {
      const start = await h.call('POST', '/api/auth/login', {
        body: { email: doctor.email.toUpperCase(), password: PASSWORD },
      });
      expect(start.status).toBe(200);
      expect(start.body).toMatchObject({
        mfaRequired: true,
        method: 'email',
        challengeId: expect.any(String),
      });
      expect(start.body.destination).not.toContain(doctor.email.split('@')[0]);
      const code = codeIn((await lastMessage(h.db, doctor.email))!.body)!;
      const done = await h.call('POST', '/api/auth/mfa', {
        body: { challengeId: start.body.challengeId, code },
      });
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({
        tokenType: 'Bearer',
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
      });
      const again = await h.call('POST', '/api/auth/mfa', {
        body: { challengeId: start.body.challengeId, code },
      });
      expect(again.body.code).toBe('challenge_invalid');
    });

    it('login: bad input gives field errors; wrong password and unknown e-mail look the same', async () => {
      expectFieldError(
        await h.call('POST', '/api/auth/login', { body: { email: 'nope', password: '' } }),
        'email',
      );
      expectFieldError(await h.call('POST', '/api/auth/login', { body: '{not json' }), '(body)');
      const wrong = await h.call('POST', '/api/auth/login', {
        body: { email: doctor.email, password: 'wrong-password-123' },
        ip: '198.51.100.50',
      });
      const unknown = await h.call('POST', '/api/auth/login', {
        body: { email: 'ghost@example.test', password: 'wrong-password-123' },
        ip: '198.51.100.50',
      });
      expect([wrong.status, wrong.body.code]).toEqual([401, 'invalid_credentials']);
      expect([unknown.status, unknown.body.detail]).toEqual([401, wrong.body.detail]);
    });

    it('mfa: wrong code is 401 with a field error; five wrong codes burn the challenge', async () => {
      expectFieldError(
        await h.call('POST', '/api/auth/mfa', { body: { challengeId: 'x', code: '12' } }),
        'code',
      );
      // The account's own code limit is raised here, so that the challenge's limit is the one reached.
      const lenient = await h.another({ LOGIN_MAX_FAILURES: '10' });
      const u = await createUser(h.identity, h.db, { role: 'operator', clinicId });
      const start = await lenient.call('POST', '/api/auth/login', {
        body: { email: u.email, password: PASSWORD },
      });
      const code = codeIn((await lastMessage(h.db, u.email))!.body)!;
      const wrong = code === '999999' ? '999998' : '999999';
      for (let i = 0; i < 5; i++) {
        const r = await lenient.call('POST', '/api/auth/mfa', {
          body: { challengeId: start.body.challengeId, code: wrong },
        });
        expect(r.body.code).toBe('invalid_code');
      }
      const late = await lenient.call('POST', '/api/auth/mfa', {
        body: { challengeId: start.body.challengeId, code },
      });
      expect(late.body.code).toBe('challenge_invalid');
    });

    it('lockout: after 5 failures even the right password is refused (423), for unknown e-mails too', async () => {
      const u = await createUser(h.identity, h.db, { role: 'patient', clinicId });
      for (let i = 0; i < 5; i++) {
        expect(
          (
            await h.call('POST', '/api/auth/login', {
              body: { email: u.email, password: 'bad-password-guess' },
            })
          ).status,
        ).toBe(401);
      }
      const locked = await h.call('POST', '/api/auth/login', {
        body: { email: u.email, password: PASSWORD },
      });
      expect([locked.status, locked.body.code]).toEqual([423, 'account_locked']);
      for (let i = 0; i < 5; i++)
        await h.call('POST', '/api/auth/login', {
          body: { email: 'nobody@example.test', password: 'bad-password-guess' },
        });
      expect(
        (await h.call('POST', '/api/auth/login', { body: { email: 'nobody@example.test', password: 'x' } }))
          .status,
      ).toBe(423);
    });

    it('rate limit: too many attempts from one IP in a minute is 429, on any node', async () => {
      const strict = await h.another({ LOGIN_RATE_LIMIT_PER_MINUTE: '3' });
      for (let i = 0; i < 3; i++)
        await strict.call('POST', '/api/auth/login', {
          body: { email: `r${i}@example.test`, password: 'whatever-pass' },
          ip: '192.0.2.99',
        });
      const r = await strict.call('POST', '/api/auth/login', {
        body: { email: doctor.email, password: PASSWORD },
        ip: '192.0.2.99',
      });
      expect([r.status, r.body.code]).toEqual([429, 'rate_limited']);
      expect(
        (
          await strict.call('POST', '/api/auth/login', {
            body: { email: doctor.email, password: PASSWORD },
            ip: '192.0.2.100',
          })
        ).status,
      ).toBe(200);
    });

    it('behind a trusted proxy the limit is per forwarded client; from anyone else X-Forwarded-For is ignored', async () => {
      const proxied = await h.another({ LOGIN_RATE_LIMIT_PER_MINUTE: '3', TRUSTED_PROXIES: '10.0.0.0/8' });
      const viaProxy = (client: string) => ({
        ip: '10.0.0.1',
        headers: { 'x-forwarded-for': `${client}, 10.0.0.2` },
      });
      for (let i = 0; i < 3; i++)
        await proxied.call('POST', '/api/auth/login', {
          body: { email: `p${i}@example.test`, password: 'whatever-pass' },
          ...viaProxy('198.51.100.20'),
        });
      expect(
        (
          await proxied.call('POST', '/api/auth/login', {
            body: { email: doctor.email, password: PASSWORD },
            ...viaProxy('198.51.100.20'),
          })
        ).status,
      ).toBe(429);
      // Another client behind the same proxy is not punished for the first one.
      expect(
        (
          await proxied.call('POST', '/api/auth/login', {
            body: { email: doctor.email, password: PASSWORD },
            ...viaProxy('198.51.100.21'),
          })
        ).status,
      ).toBe(200);
      // A direct, untrusted client cannot dodge the limit by inventing X-Forwarded-For.
      for (let i = 0; i < 3; i++)
        await proxied.call('POST', '/api/auth/login', {
          body: { email: `q${i}@example.test`, password: 'whatever-pass' },
          ip: '203.0.113.50',
          headers: { 'x-forwarded-for': `198.51.100.${30 + i}` },
        });
      const dodged = await proxied.call('POST', '/api/auth/login', {
        body: { email: doctor.email, password: PASSWORD },
        ip: '203.0.113.50',
        headers: { 'x-forwarded-for': '198.51.100.99' },
      });
      expect(dodged.status).toBe(429);
    });

    it('sms: a code goes to the phone when asked; unavailable without a phone', async () => {
      const u = await createUser(h.identity, h.db, { role: 'patient', clinicId, phone: '+441632960777' });
      const r = await h.call('POST', '/api/auth/login', {
        body: { email: u.email, password: PASSWORD, method: 'sms' },
      });
      expect(r.body).toMatchObject({ method: 'sms', destination: '••••77' });
      const msg = await lastMessage(h.db, '+441632960777');
      expect(msg!.channel).toBe('sms');
      expect(
        (
          await h.call('POST', '/api/auth/mfa', {
            body: { challengeId: r.body.challengeId, code: codeIn(msg!.body) },
          })
        ).status,
      ).toBe(200);
      const none = await h.call('POST', '/api/auth/login', {
        body: { email: doctor.email, password: PASSWORD, method: 'sms' },
      });
      expect([none.status, none.body.errors[0].field]).toEqual([422, 'method']);
      expectFieldError(
        await h.call('POST', '/api/auth/login', {
          body: { email: doctor.email, password: PASSWORD, method: 'pigeon' },
        }),
        'method',
      );
    });

    it('sessions: list own, revoke one (it stops working), logout; bad id is 400, foreign id 404', async () => {
      const a = await signIn(h.call, h.db, operator.email);
      const b = await signIn(h.call, h.db, operator.email);
      const list = await h.call('GET', '/api/auth/sessions', { token: a.accessToken });
      expect(list.status).toBe(200);
      const ids = list.body.sessions.map((s: { id: string }) => s.id);
      expect(ids).toEqual(expect.arrayContaining([a.sessionId, b.sessionId]));
      expect(list.body.sessions.find((s: { id: string }) => s.id === a.sessionId).current).toBe(true);
      expect(
        (await h.call('DELETE', `/api/auth/sessions/${b.sessionId}`, { token: a.accessToken })).status,
      ).toBe(204);
      expect((await h.call('GET', '/api/me', { token: b.accessToken })).body.code).toBe('session_revoked');
      expectFieldError(
        await h.call('DELETE', '/api/auth/sessions/not-a-uuid', { token: a.accessToken }),
        'sessionId',
      );
      const other = await signIn(h.call, h.db, doctor.email);
      expect(
        (await h.call('DELETE', `/api/auth/sessions/${other.sessionId}`, { token: a.accessToken })).status,
      ).toBe(404);
      expect((await h.call('GET', '/api/me', { token: other.accessToken })).status).toBe(200);
      expect((await h.call('POST', '/api/auth/logout', { token: a.accessToken })).status).toBe(204);
      expect((await h.call('GET', '/api/me', { token: a.accessToken })).status).toBe(401);
      expect((await h.call('POST', '/api/auth/logout')).status).toBe(401);
    });
  });

  describe('me', () => {
    it('profile; password change signs out other sessions; bad input', async () => {
      const u = await createUser(h.identity, h.db, { role: 'patient', clinicId });
      const a = await signIn(h.call, h.db, u.email);
      const b = await signIn(h.call, h.db, u.email);
      const me = await h.call('GET', '/api/me', { token: a.accessToken });
      expect(me.body).toMatchObject({ id: u.id, role: 'patient', email: u.email, clinicIds: [clinicId] });
      expectFieldError(
        await h.call('POST', '/api/me/password', {
          token: a.accessToken,
          body: { currentPassword: PASSWORD, newPassword: 'short' },
        }),
        'newPassword',
      );
      expectFieldError(
        await h.call('POST', '/api/me/password', {
          token: a.accessToken,
          body: { currentPassword: 'wrong-one-entirely', newPassword: 'another-long-password' },
        }),
        'currentPassword',
      );
      expect(
        (
          await h.call('POST', '/api/me/password', {
            token: a.accessToken,
            body: { currentPassword: PASSWORD, newPassword: 'another-long-password' },
          })
        ).status,
      ).toBe(204);
      expect((await h.call('GET', '/api/me', { token: b.accessToken })).status).toBe(401);
      expect((await h.call('GET', '/api/me', { token: a.accessToken })).status).toBe(200);
      await signIn(h.call, h.db, u.email, 'another-long-password');
    });

    it('mfa method: sms needs a phone; bad method is 400', async () => {
      expect(
        (await h.call('PUT', '/api/me/mfa', { token: tok.doctor!, body: { method: 'sms' } })).status,
      ).toBe(422);
      expect(
        (await h.call('PUT', '/api/me/mfa', { token: tok.doctor!, body: { method: 'email' } })).status,
      ).toBe(200);
      expectFieldError(
        await h.call('PUT', '/api/me/mfa', { token: tok.doctor!, body: { method: 'totp' } }),
        'method',
      );
    });

    it('TOTP: set up, confirm, sign in with it (a code works once), disable', async () => {
      const u = await createUser(h.identity, h.db, { role: 'doctor', clinicId });
      const t = await signIn(h.call, h.db, u.email);
      expect(
        (await h.call('POST', '/api/me/totp/confirm', { token: t.accessToken, body: { code: '123456' } }))
          .status,
      ).toBe(409);
      const setup = await h.call('POST', '/api/me/totp/setup', { token: t.accessToken });
      expect(setup.body.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
      const secret = base32Decode(setup.body.secret);
      const now = () => Math.floor(Date.now() / 1000);
      expectFieldError(
        await h.call('POST', '/api/me/totp/confirm', { token: t.accessToken, body: { code: 'abc' } }),
        'code',
      );
      expect(
        (
          await h.call('POST', '/api/me/totp/confirm', {
            token: t.accessToken,
            body: { code: totpAt(secret, now() - 300) },
          })
        ).status,
      ).toBe(400);
      expect(
        (
          await h.call('POST', '/api/me/totp/confirm', {
            token: t.accessToken,
            body: { code: totpAt(secret, now() - 30) },
          })
        ).status,
      ).toBe(200);
      const [row] = await h.db.select().from(users).where(eq(users.id, u.id));
      expect(row!.totpSecretSealed).not.toContain(setup.body.secret);
      const start = await h.call('POST', '/api/auth/login', { body: { email: u.email, password: PASSWORD } });
      expect(start.body.method).toBe('totp');
      // The code used at confirmation (previous step) cannot be replayed; the current one works once.
      expect(
        (
          await h.call('POST', '/api/auth/mfa', {
            body: { challengeId: start.body.challengeId, code: totpAt(secret, now() - 30) },
          })
        ).status,
      ).toBe(401);
      expect(
        (
          await h.call('POST', '/api/auth/mfa', {
            body: { challengeId: start.body.challengeId, code: totpAt(secret, now()) },
          })
        ).status,
      ).toBe(200);
      const second = await h.call('POST', '/api/auth/login', {
        body: { email: u.email, password: PASSWORD },
      });
      expect(
        (
          await h.call('POST', '/api/auth/mfa', {
            body: { challengeId: second.body.challengeId, code: totpAt(secret, now()) },
          })
        ).status,
      ).toBe(401);
      expect((await h.call('DELETE', '/api/me/totp', { token: t.accessToken })).status).toBe(204);
      expect(
        (await h.call('POST', '/api/auth/login', { body: { email: u.email, password: PASSWORD } })).body
          .method,
      ).toBe('email');
    });

    it('dependents: a guardian adds a minor in their clinic and acts for them; adults and foreign clinics refused', async () => {
      const g = await createUser(h.identity, h.db, { role: 'guardian', clinicId });
      const t = await signIn(h.call, h.db, g.email);
      const other = await createClinic(h.db, 'Elsewhere');
      const bad = await h.call('POST', '/api/me/dependents', {
        token: t.accessToken,
        body: { displayName: 'Adult', dateOfBirth: '1990-01-01', clinicId: other },
      });
      expect(bad.status).toBe(422);
      expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
        'clinicId',
        'dateOfBirth',
      ]);
      expectFieldError(
        await h.call('POST', '/api/me/dependents', {
          token: t.accessToken,
          body: { displayName: '', dateOfBirth: '2015-13-45', clinicId: 'x' },
        }),
        'dateOfBirth',
      );
      const made = await h.call('POST', '/api/me/dependents', {
        token: t.accessToken,
        body: { displayName: 'Little One', dateOfBirth: '2018-06-01', clinicId },
      });
      expect(made.status).toBe(201);
      const list = await h.call('GET', '/api/me/dependents', { token: t.accessToken });
      expect(list.body.dependents).toEqual([
        expect.objectContaining({ id: made.body.id, displayName: 'Little One' }),
      ]);
      const read = await h.call('GET', `/api/patients/${made.body.id}`, {
        token: t.accessToken,
        headers: { 'x-on-behalf-of': made.body.id },
      });
      expect(read.status).toBe(200);
      const entries = await h.identity.audit.query({
        patientId: made.body.id,
        action: 'patient.profile.read',
        limit: 5,
      });
      expect(entries[0]).toMatchObject({ actorId: g.id, onBehalfOf: made.body.id, outcome: 'allowed' });
      expectFieldError(
        await h.call('GET', '/api/me', { token: t.accessToken, headers: { 'x-on-behalf-of': 'nope' } }),
        'x-on-behalf-of',
      );
      // Only guardians have dependents.
      expect((await h.call('GET', '/api/me/dependents', { token: tok.doctor! })).status).toBe(403);
    });
  });

  describe('clinics and invitations', () => {
    it('platform admin creates a clinic; its admin accepts the link and invites a doctor, who invites a patient', async () => {
      expectFieldError(
        await h.call('POST', '/api/clinics', { token: tok.admin!, body: { name: '', adminEmail: 'x' } }),
        'adminEmail',
      );
      const created = await h.call('POST', '/api/clinics', {
        token: tok.admin!,
        body: { name: 'New Clinic', adminEmail: 'boss@newclinic.test', idleTimeoutSeconds: 900 },
      });
      expect(created.status).toBe(201);
      const newClinic = created.body.clinic.id;
      const token = /#invitation=([A-Za-z0-9_-]+)/.exec(created.body.adminInvitation.link)![1]!;
      expect((await lastMessage(h.db, 'boss@newclinic.test'))!.body).toContain(token);

      expectFieldError(
        await h.call('POST', '/api/invitations/accept', {
          body: { token, displayName: 'Boss', password: 'short' },
        }),
        'password',
      );
      const missing = await h.call('POST', '/api/invitations/accept', { body: { token: 'x'.repeat(43) } });
      expect(missing.status).toBe(410);
      const acc = await h.call('POST', '/api/invitations/accept', {
        body: { token, displayName: 'Boss', password: 'boss-long-password' },
      });
      expect(acc.status).toBe(201);
      expect(acc.body).toMatchObject({ role: 'clinic_admin', clinicId: newClinic });
      expect(
        (
          await h.call('POST', '/api/invitations/accept', {
            body: { token, displayName: 'Boss', password: 'boss-long-password' },
          })
        ).status,
      ).toBe(410);

      const boss = await signIn(h.call, h.db, 'boss@newclinic.test', 'boss-long-password');
      expectFieldError(
        await h.call('POST', `/api/clinics/${newClinic}/invitations`, {
          token: boss.accessToken,
          body: { email: 'doc@newclinic.test', role: 'wizard' },
        }),
        'role',
      );
      // A clinic admin registers staff but does not invite patients.
      expect(
        (
          await h.call('POST', `/api/clinics/${newClinic}/invitations`, {
            token: boss.accessToken,
            body: { email: 'p@x.test', role: 'patient' },
          })
        ).status,
      ).toBe(403);
      const docInv = await h.call('POST', `/api/clinics/${newClinic}/invitations`, {
        token: boss.accessToken,
        body: { email: 'doc@newclinic.test', role: 'doctor' },
      });
      expect(docInv.status).toBe(201);
      const docToken = /#invitation=(.+)$/.exec(docInv.body.link)![1]!;
      await h.call('POST', '/api/invitations/accept', {
        body: { token: docToken, displayName: 'Dr New', password: 'doctor-long-password' },
      });
      const doc = await signIn(h.call, h.db, 'doc@newclinic.test', 'doctor-long-password');
      // A doctor invites patients, not staff.
      expect(
        (
          await h.call('POST', `/api/clinics/${newClinic}/invitations`, {
            token: doc.accessToken,
            body: { email: 'x@x.test', role: 'operator' },
          })
        ).status,
      ).toBe(403);
      const patInv = await h.call('POST', `/api/clinics/${newClinic}/invitations`, {
        token: doc.accessToken,
        body: { email: 'Pat@Example.test', role: 'patient' },
      });
      expect(patInv.status).toBe(201);
      const patToken = /#invitation=(.+)$/.exec(patInv.body.link)![1]!;
      expectFieldError(
        await h.call('POST', '/api/invitations/accept', {
          body: {
            token: patToken,
            displayName: 'Pat',
            password: 'patient-long-password',
            dateOfBirth: 'yesterday',
          },
        }),
        'dateOfBirth',
      );
      const pat = await h.call('POST', '/api/invitations/accept', {
        body: {
          token: patToken,
          displayName: 'Pat',
          password: 'patient-long-password',
          dateOfBirth: '1975-03-03',
        },
      });
      expect(pat.status).toBe(201);
      // Invited by their doctor: the treating relationship exists, so the doctor sees them.
      const list = await h.call('GET', `/api/clinics/${newClinic}/patients`, { token: doc.accessToken });
      expect(list.body.patients).toEqual([
        expect.objectContaining({ id: pat.body.userId, displayName: 'Pat' }),
      ]);
      expect(
        (await h.call('GET', `/api/patients/${pat.body.userId}`, { token: doc.accessToken })).body.email,
      ).toBe('pat@example.test');
    });

    it('an expired invitation is refused; a signed-in user with the same e-mail and role joins a second clinic', async () => {
      const inv = await h.call('POST', `/api/clinics/${clinicId}/invitations`, {
        token: tok.operator!,
        body: { email: 'late@example.test', role: 'patient' },
      });
      await h.db
        .update(invitations)
        .set({ expiresAt: new Date(Date.now() - 1000) })
        .where(eq(invitations.id, inv.body.id));
      const token = /#invitation=(.+)$/.exec(inv.body.link)![1]!;
      expect(
        (
          await h.call('POST', '/api/invitations/accept', {
            body: { token, displayName: 'Late', password: 'late-long-password' },
          })
        ).status,
      ).toBe(410);

      const p = await createUser(h.identity, h.db, { role: 'patient', clinicId });
      const pt = await signIn(h.call, h.db, p.email);
      const second = await createClinic(h.db, 'Second');
      const op2 = await createUser(h.identity, h.db, { role: 'operator', clinicId: second });
      const op2t = await signIn(h.call, h.db, op2.email);
      const inv2 = await h.call('POST', `/api/clinics/${second}/invitations`, {
        token: op2t.accessToken,
        body: { email: p.email, role: 'patient' },
      });
      const t2 = /#invitation=(.+)$/.exec(inv2.body.link)![1]!;
      expect(
        (
          await h.call('POST', '/api/invitations/accept', {
            body: { token: t2, displayName: 'Dup', password: 'dup-long-password-1' },
          })
        ).status,
      ).toBe(409);
      const joined = await h.call('POST', '/api/invitations/accept', {
        token: pt.accessToken,
        body: { token: t2 },
      });
      expect(joined.status).toBe(200);
      expect((await h.call('GET', '/api/me', { token: pt.accessToken })).body.clinicIds.sort()).toEqual(
        [clinicId, second].sort(),
      );
    });

    it('read, patch (idle timeout), staff list, care relationships', async () => {
      expect((await h.call('GET', `/api/clinics/${clinicId}`, { token: tok.doctor! })).body.name).toBe(
        'Main clinic',
      );
      expectFieldError(
        await h.call('PATCH', `/api/clinics/${clinicId}`, {
          token: tok.clinicAdmin!,
          body: { idleTimeoutSeconds: 5 },
        }),
        'idleTimeoutSeconds',
      );
      expectFieldError(
        await h.call('PATCH', `/api/clinics/${clinicId}`, { token: tok.clinicAdmin!, body: {} }),
        '(body)',
      );
      const patched = await h.call('PATCH', `/api/clinics/${clinicId}`, {
        token: tok.clinicAdmin!,
        body: { idleTimeoutSeconds: 1200 },
      });
      expect(patched.body.idleTimeoutSeconds).toBe(1200);
      expect(await h.identity.sessions.idleTimeoutSeconds(doctor.id)).toBe(1200);
      expect(
        (
          await h.call('PATCH', `/api/clinics/${clinicId}`, {
            token: tok.doctor!,
            body: { idleTimeoutSeconds: 9000 },
          })
        ).status,
      ).toBe(403);
      expectFieldError(await h.call('GET', '/api/clinics/not-a-uuid', { token: tok.doctor! }), 'clinicId');

      const staff = await h.call('GET', `/api/clinics/${clinicId}/staff`, { token: tok.operator! });
      expect(staff.body.staff.map((s: { id: string }) => s.id)).toEqual(
        expect.arrayContaining([clinicAdmin.id, doctor.id, operator.id]),
      );

      const p = await createUser(h.identity, h.db, { role: 'patient', clinicId });
      expect((await h.call('GET', `/api/patients/${p.id}/notes`, { token: tok.doctor! })).status).toBe(403);
      expectFieldError(
        await h.call('POST', `/api/clinics/${clinicId}/care-relationships`, {
          token: tok.operator!,
          body: { doctorId: 'x' },
        }),
        'patientId',
      );
      const wrong = await h.call('POST', `/api/clinics/${clinicId}/care-relationships`, {
        token: tok.operator!,
        body: { doctorId: p.id, patientId: doctor.id },
      });
      expect(wrong.status).toBe(422);
      expect(
        (
          await h.call('POST', `/api/clinics/${clinicId}/care-relationships`, {
            token: tok.operator!,
            body: { doctorId: doctor.id, patientId: p.id },
          })
        ).status,
      ).toBe(201);
      expect((await h.call('GET', `/api/patients/${p.id}/notes`, { token: tok.doctor! })).status).toBe(200);
      const all = await h.call('GET', `/api/clinics/${clinicId}/patients`, { token: tok.clinicAdmin! });
      expect(all.body.patients.map((x: { id: string }) => x.id)).toContain(p.id);
    });
  });

  describe('patients, break-glass and audit', () => {
    it('notes: doctor writes and reads, patient reads own, operator sees demographics only; bad input', async () => {
      const p = await createUser(h.identity, h.db, { role: 'patient', clinicId });
      await relate(h.db, clinicId, doctor.id, p.id);
      expectFieldError(
        await h.call('POST', `/api/patients/${p.id}/notes`, { token: tok.doctor!, body: { body: '   ' } }),
        'body',
      );
      expectFieldError(await h.call('GET', '/api/patients/123/notes', { token: tok.doctor! }), 'patientId');
      expect(
        (await h.call('GET', '/api/patients/00000000-0000-4000-8000-000000000000', { token: tok.doctor! }))
          .status,
      ).toBe(404);
      const w = await h.call('POST', `/api/patients/${p.id}/notes`, {
        token: tok.doctor!,
        body: { body: 'BP 120/80' },
      });
      expect(w.status).toBe(201);
      const pt = await signIn(h.call, h.db, p.email);
      expect(
        (await h.call('GET', `/api/patients/${p.id}/notes`, { token: pt.accessToken })).body.notes[0].body,
      ).toBe('BP 120/80');
      expect(
        (
          await h.call('POST', `/api/patients/${p.id}/notes`, {
            token: pt.accessToken,
            body: { body: 'self-edit' },
          })
        ).status,
      ).toBe(403);
      expect((await h.call('GET', `/api/patients/${p.id}`, { token: tok.operator! })).status).toBe(200);
      expect((await h.call('GET', `/api/patients/${p.id}/notes`, { token: tok.operator! })).status).toBe(403);
    });

    it('break-glass: needs a reason, opens the record for that doctor, and is flagged in the audit log', async () => {
      const p = await createUser(h.identity, h.db, { role: 'patient', clinicId });
      const denied = await h.call('GET', `/api/patients/${p.id}/notes`, { token: tok.doctor! });
      expect(denied.status).toBe(403);
      expect(denied.body.detail).toMatch(/break-glass/);
      expectFieldError(
        await h.call('POST', `/api/patients/${p.id}/break-glass`, {
          token: tok.doctor!,
          body: { reason: 'x' },
        }),
        'reason',
      );
      expect(
        (
          await h.call('POST', `/api/patients/${p.id}/break-glass`, {
            token: tok.operator!,
            body: { reason: 'operators cannot do this' },
          })
        ).status,
      ).toBe(403);
      const bg = await h.call('POST', `/api/patients/${p.id}/break-glass`, {
        token: tok.doctor!,
        body: { reason: 'Unconscious in ED, allergy check' },
      });
      expect(bg.status).toBe(201);
      const read = await h.call('GET', `/api/patients/${p.id}/notes`, { token: tok.doctor! });
      expect(read.status).toBe(200);
      expect(read.body.breakGlass).toBe(true);
      const entries = await h.identity.audit.query({ patientId: p.id, limit: 20 });
      expect(entries.find((e) => e.action === 'patient.break_glass')).toMatchObject({
        breakGlass: true,
        reason: 'Unconscious in ED, allergy check',
        actorId: doctor.id,
        outcome: 'allowed',
      });
      expect(entries.find((e) => e.action === 'patient.notes.read' && e.outcome === 'allowed')).toMatchObject(
        { breakGlass: true },
      );
    });

    it('audit API: platform admin queries all and verifies; clinic admin only their clinic; bad query', async () => {
      const all = await h.call('GET', '/api/audit?limit=5', { token: tok.admin! });
      expect(all.status).toBe(200);
      expect(all.body.entries).toHaveLength(5);
      const page2 = await h.call('GET', `/api/audit?limit=5&before=${all.body.next}`, { token: tok.admin! });
      expect(page2.body.entries[0].seq).toBeLessThan(all.body.entries[4].seq);
      const mine = await h.call('GET', `/api/audit?clinicId=${clinicId}&action=patient.break_glass`, {
        token: tok.clinicAdmin!,
      });
      expect(mine.status).toBe(200);
      expect(mine.body.entries.length).toBeGreaterThan(0);
      expect(mine.body.entries.every((e: { clinicId: string }) => e.clinicId === clinicId)).toBe(true);
      expect((await h.call('GET', '/api/audit', { token: tok.clinicAdmin! })).status).toBe(403);
      expectFieldError(
        await h.call('GET', '/api/audit?limit=0&from=yesterday', { token: tok.admin! }),
        'from',
      );
      const v = await h.call('GET', '/api/audit/verify', { token: tok.admin! });
      expect(v.body).toMatchObject({ ok: true });
      expect(v.body.checked).toBeGreaterThan(10);
      expect((await h.call('GET', '/api/audit/verify', { token: tok.clinicAdmin! })).status).toBe(403);
    });

    it('audit verify against a signed checkpoint from the log; bad or forged checkpoints are 400', async () => {
      const signed = signCheckpoint((await h.identity.audit.head())!, h.identity.keys.privateKey);
      const url = (q: string) => `/api/audit/verify?${q}`;
      const ok = await h.call(
        'GET',
        url(`seq=${signed.seq}&hash=${signed.hash}&signature=${signed.signature}`),
        { token: tok.admin! },
      );
      expect([ok.status, ok.body.ok]).toEqual([200, true]);
      // Unsigned checkpoints are accepted too (the operator vouches for where they came from).
      expect(
        (await h.call('GET', url(`seq=${signed.seq}&hash=${signed.hash}`), { token: tok.admin! })).body.ok,
      ).toBe(true);
      const wrongHash = await h.call('GET', url(`seq=${signed.seq}&hash=${'0'.repeat(64)}`), {
        token: tok.admin!,
      });
      expect(wrongHash.body).toMatchObject({
        ok: false,
        brokenAt: { seq: signed.seq, problem: 'checkpoint_mismatch' },
      });
      const forged = signCheckpoint(
        { seq: signed.seq, hash: signed.hash },
        loadAuthKeys(undefined).privateKey,
      );
      expectFieldError(
        await h.call('GET', url(`seq=${forged.seq}&hash=${forged.hash}&signature=${forged.signature}`), {
          token: tok.admin!,
        }),
        'signature',
      );
      expectFieldError(await h.call('GET', url(`seq=${signed.seq}`), { token: tok.admin! }), 'hash');
      expectFieldError(await h.call('GET', url(`seq=${signed.seq}&hash=xyz`), { token: tok.admin! }), 'hash');
      expectFieldError(await h.call('GET', url(`seq=-1&hash=${signed.hash}`), { token: tok.admin! }), 'seq');
      expect(
        (await h.call('GET', url(`seq=${signed.seq}&hash=${signed.hash}`), { token: tok.clinicAdmin! }))
          .status,
      ).toBe(403);
    });

    it('session records the client address', async () => {
      const t = await signIn(h.call, h.db, operator.email, PASSWORD, '192.0.2.44');
      const [s] = await h.db.select().from(sessions).where(eq(sessions.id, t.sessionId));
      expect(s!.ip).toBe('192.0.2.44');
    });
  });
});
