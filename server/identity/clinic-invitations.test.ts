import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { invitations } from '../../db/schema/index.ts';
import {
  createClinic,
  createUser,
  signIn,
  startIdentityHarness,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';

/** Listing and revoking a clinic's invitations, on a real PostgreSQL database. */
describe('clinic invitations: list and revoke', () => {
  let h: IdentityHarness;
  let clinicId: string;
  let otherClinic: string;
  const tok: Record<string, string> = {};
  const ids: Record<string, string> = {};

  const expectFieldError = (r: { status: number; contentType: string; body: any }, field: string) => {
    expect(r.status).toBe(400);
    expect(r.contentType).toContain('application/problem+json');
    expect(r.body.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ field, message: expect.any(String) })]),
    );
  };
  const invite = async (who: string, email: string, role: string, clinic = clinicId) => {
    const r = await h.call('POST', `/api/clinics/${clinic}/invitations`, {
      token: tok[who]!,
      body: { email, role },
    });
    expect(r.status).toBe(201);
    return { id: r.body.id as string, token: /#invitation=(.+)$/.exec(r.body.link)![1]! };
  };
  const accept = (token: string, name = 'Invitee') =>
    h.call('POST', '/api/invitations/accept', {
      body: { token, displayName: name, password: 'invitee-long-password' },
    });
  const list = (who: string, query = '', clinic = clinicId) =>
    h.call('GET', `/api/clinics/${clinic}/invitations${query}`, { token: tok[who]! });
  const revoke = (who: string | undefined, id: string, clinic = clinicId) =>
    h.call('DELETE', `/api/clinics/${clinic}/invitations/${id}`, { token: who ? tok[who]! : undefined });

  beforeAll(async () => {
    h = await startIdentityHarness();
    clinicId = await createClinic(h.db, 'Main clinic');
    otherClinic = await createClinic(h.db, 'Other clinic');
    const people = {
      admin: { role: 'admin' },
      clinicAdmin: { role: 'clinic_admin', clinicId },
      doctor: { role: 'doctor', clinicId },
      doctor2: { role: 'doctor', clinicId },
      operator: { role: 'operator', clinicId },
      partner: { role: 'partner', clinicId },
      patient: { role: 'patient', clinicId },
      otherAdmin: { role: 'clinic_admin', clinicId: otherClinic },
      otherDoctor: { role: 'doctor', clinicId: otherClinic },
    } as const;
    for (const [k, p] of Object.entries(people)) {
      const u = await createUser(h.identity, h.db, p);
      ids[k] = u.id;
      tok[k] = (await signIn(h.call, h.db, u.email)).accessToken;
    }
  });
  afterAll(() => h.close());

  it('clinic admin sees all; doctors and operators only what they sent; no secrets; status filter', async () => {
    const staff = await invite('clinicAdmin', 'new-doc@example.test', 'doctor');
    const byDoctor = await invite('doctor', 'pat-a@example.test', 'patient');
    const byOperator = await invite('operator', 'guard-b@example.test', 'guardian');
    const accepted = await invite('doctor', 'pat-c@example.test', 'patient');
    expect((await accept(accepted.token)).status).toBe(201);
    const expired = await invite('doctor', 'pat-d@example.test', 'patient');
    await h.db
      .update(invitations)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(invitations.id, expired.id));

    const all = await list('clinicAdmin');
    expect(all.status).toBe(200);
    expect(all.body.invitations.map((i: { id: string }) => i.id).sort()).toEqual(
      [staff.id, byDoctor.id, byOperator.id, accepted.id, expired.id].sort(),
    );
    const text = JSON.stringify(all.body);
    for (const t of [staff, byDoctor, byOperator, accepted, expired]) expect(text).not.toContain(t.token);
    expect(text).not.toMatch(/token|hash/i);
    expect(all.body.invitations.find((i: { id: string }) => i.id === byDoctor.id)).toMatchObject({
      email: 'pat-a@example.test',
      role: 'patient',
      status: 'pending',
      createdBy: ids.doctor,
      acceptedAt: null,
      revokedAt: null,
    });
    expect(all.body.invitations.find((i: { id: string }) => i.id === accepted.id)).toMatchObject({
      status: 'accepted',
      acceptedBy: expect.any(String),
      acceptedAt: expect.any(String),
    });

    const mine = await list('doctor');
    expect(mine.body.invitations.map((i: { id: string }) => i.id).sort()).toEqual(
      [byDoctor.id, accepted.id, expired.id].sort(),
    );
    expect((await list('operator')).body.invitations.map((i: { id: string }) => i.id)).toEqual([
      byOperator.id,
    ]);
    expect((await list('doctor2')).body.invitations).toEqual([]);

    const status = async (s: string) =>
      (await list('doctor', `?status=${s}`)).body.invitations.map((i: { id: string }) => i.id);
    expect(await status('accepted')).toEqual([accepted.id]);
    expect(await status('expired')).toEqual([expired.id]);
    expect(await status('pending')).toEqual([byDoctor.id]);
    expect(await status('revoked')).toEqual([]);
  });

  it('pages newest first with limit and before, each invitation once', async () => {
    for (let i = 0; i < 5; i++) await invite('operator', `page-${i}@example.test`, 'patient');
    const total = (await list('operator', '?limit=200')).body.invitations.length;
    const seen: string[] = [];
    let before = '';
    for (;;) {
      const page = await list('operator', `?limit=2${before ? `&before=${before}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.invitations.map((i: { id: string }) => i.id));
      if (!page.body.next) break;
      before = page.body.next;
    }
    expect(seen.length).toBe(total);
    expect(new Set(seen).size).toBe(total);
    const created = (await list('operator', '?limit=200')).body.invitations.map(
      (i: { createdAt: string }) => i.createdAt,
    );
    expect(created).toEqual([...created].sort().reverse());
  });

  it('list: bad input is 400 with field errors', async () => {
    expectFieldError(await list('clinicAdmin', '?status=wizard'), 'status');
    expectFieldError(await list('clinicAdmin', '?limit=0'), 'limit');
    expectFieldError(await list('clinicAdmin', '?limit=lots'), 'limit');
    expectFieldError(await list('clinicAdmin', '?before=not-a-uuid'), 'before');
    expectFieldError(
      await h.call('GET', '/api/clinics/nope/invitations', { token: tok.clinicAdmin! }),
      'clinicId',
    );
  });

  it('list: 401 without a token; 403 for other roles; 404 (as for an unknown clinic) for other clinics and the platform admin; audited', async () => {
    expect((await h.call('GET', `/api/clinics/${clinicId}/invitations`)).status).toBe(401);
    for (const [who, status] of [
      ['patient', 403],
      ['partner', 403],
      ['otherAdmin', 404],
      ['otherDoctor', 404],
      ['admin', 404],
    ] as const) {
      const r = await list(who);
      expect([who, r.status, r.contentType]).toEqual([
        who,
        status,
        expect.stringContaining('application/problem+json'),
      ]);
    }
    const entries = await h.identity.audit.query({ clinicId, action: 'clinic.invitations.list', limit: 500 });
    expect(entries.some((e) => e.outcome === 'allowed' && e.actorId === ids.clinicAdmin)).toBe(true);
    expect(entries.some((e) => e.outcome === 'denied' && e.actorId === ids.patient)).toBe(true);
  });

  it('revoke: the link stops working at once, like an unknown one; listed as revoked; audited; repeat is a no-op', async () => {
    const inv = await invite('doctor', 'revoked@example.test', 'patient');
    expect((await revoke('doctor', inv.id)).status).toBe(204);
    const late = await accept(inv.token);
    const unknown = await accept('x'.repeat(43));
    expect([late.status, late.body.code, late.body.detail]).toEqual([
      unknown.status,
      unknown.body.code,
      unknown.body.detail,
    ]);
    expect(late.status).toBe(410);
    expect((await list('doctor', '?status=revoked')).body.invitations).toEqual([
      expect.objectContaining({ id: inv.id, status: 'revoked', revokedAt: expect.any(String) }),
    ]);
    expect((await revoke('doctor', inv.id)).status).toBe(204);
    const events = await h.identity.audit.query({ clinicId, action: 'invitation.revoked', limit: 50 });
    expect(events.filter((e) => e.resourceId === inv.id).map((e) => e.actorId)).toEqual([ids.doctor]);

    // The clinic admin may revoke anyone's, expired ones included.
    const byOperator = await invite('operator', 'op-sent@example.test', 'patient');
    await h.db
      .update(invitations)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(invitations.id, byOperator.id));
    expect((await revoke('clinicAdmin', byOperator.id)).status).toBe(204);
  });

  it('an acceptance is audited as the new account, with the account; a refused one leaves no entry', async () => {
    const inv = await invite('doctor', 'audited@example.test', 'patient');
    const accepted = await accept(inv.token);
    expect(accepted.status).toBe(201);
    const entries = await h.identity.audit.query({ clinicId, action: 'invitation.accepted', limit: 500 });
    const mine = entries.filter((e) => e.resourceId === inv.id);
    expect(
      mine.map((e) => ({ actorId: e.actorId, patientId: e.patientId, outcome: e.outcome })),
      'one invitation.accepted entry, by and about the new patient',
    ).toEqual([{ actorId: accepted.body.userId, patientId: accepted.body.userId, outcome: 'allowed' }]);

    // The link is spent: a second redemption is refused and records nothing more.
    expect((await accept(inv.token)).status).not.toBe(201);
    const after = await h.identity.audit.query({ clinicId, action: 'invitation.accepted', limit: 500 });
    expect(
      after.filter((e) => e.resourceId === inv.id),
      'no entry for the refused redemption',
    ).toHaveLength(1);
  });

  it('revoke: accepted is 409; unknown and other clinic ids are 404; bad ids are 400', async () => {
    const inv = await invite('doctor', 'taken@example.test', 'patient');
    expect((await accept(inv.token)).status).toBe(201);
    const conflict = await revoke('doctor', inv.id);
    expect([conflict.status, conflict.body.code, conflict.contentType]).toEqual([
      409,
      'invitation_accepted',
      expect.stringContaining('application/problem+json'),
    ]);
    expect((await revoke('clinicAdmin', '00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const elsewhere = await invite('otherDoctor', 'elsewhere@example.test', 'patient', otherClinic);
    expect((await revoke('clinicAdmin', elsewhere.id)).status).toBe(404);
    expectFieldError(await revoke('clinicAdmin', 'not-a-uuid'), 'invitationId');
    expectFieldError(await revoke('clinicAdmin', elsewhere.id, 'nope'), 'clinicId');
  });

  it("revoke: 401 without a token; 403 for staff with someone else's invitation; 404 for those who cannot know it exists; it still works", async () => {
    const inv = await invite('doctor', 'kept@example.test', 'patient');
    expect((await revoke(undefined, inv.id)).status).toBe(401);
    for (const [who, status] of [
      ['doctor2', 403],
      ['operator', 403],
      ['patient', 404],
      ['partner', 404],
      ['otherAdmin', 404],
      ['otherDoctor', 404],
      ['admin', 404],
    ] as const) {
      expect([who, (await revoke(who, inv.id)).status]).toEqual([who, status]);
    }
    // An admin of another clinic, through their own clinic's path, finds nothing there.
    expect((await revoke('otherAdmin', inv.id, otherClinic)).status).toBe(404);
    expect(
      (await list('clinicAdmin', '?status=pending')).body.invitations.map((i: { id: string }) => i.id),
    ).toContain(inv.id);
    expect((await accept(inv.token)).status).toBe(201);
  });
});
