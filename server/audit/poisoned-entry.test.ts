import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog } from '../../db/schema/index.ts';
import {
  createClinic,
  createUser,
  relate,
  signIn,
  startIdentityHarness,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';
import { runWithContext } from '../request-context.ts';
import type { AuditEvent } from './audit-log.ts';

/**
 * Audit entries of concurrent requests are committed together (group commit). An entry the
 * database refuses (here injected below the validation layer, as if a field had slipped past it)
 * must fail only its own request, not the others that happened to share its transaction.
 */
describe('audit group commit: a refused entry fails alone', () => {
  let h: IdentityHarness;
  let token: string;
  let patientId: string;
  beforeAll(async () => {
    h = await startIdentityHarness();
    const clinicId = await createClinic(h.db);
    const doctor = await createUser(h.identity, h.db, { role: 'doctor', clinicId });
    const patient = await createUser(h.identity, h.db, { role: 'patient', clinicId });
    await relate(h.db, clinicId, doctor.id, patient.id);
    patientId = patient.id;
    token = (await signIn(h.call, h.db, doctor.email)).accessToken;
  });
  afterAll(() => h.close());

  const poison = (overrides: Partial<AuditEvent>) =>
    runWithContext(
      {
        requestId: randomUUID(),
        ip: '198.51.100.9',
        userAgent: 'attacker',
        actorId: randomUUID(),
        actorRole: 'doctor',
      },
      () =>
        h.identity.audit.record({
          action: 'patient.break_glass',
          outcome: 'allowed',
          resourceType: 'patient',
          resourceId: patientId,
          patientId,
          breakGlass: true,
          reason: 'looking',
          ...overrides,
        }),
    );

  /** 200 concurrent reads of the record while poisoned entries keep arriving among their audit entries. */
  async function readsAmid(makePoison: (i: number) => Partial<AuditEvent>) {
    const before = (
      await h.db
        .select({ seq: auditLog.seq })
        .from(auditLog)
        .where(and(eq(auditLog.patientId, patientId), eq(auditLog.action, 'patient.profile.read')))
    ).length;
    let reading = true;
    const poisons: Promise<unknown>[] = [];
    const injector = (async () => {
      for (let i = 0; reading && i < 100; i++) {
        poisons.push(poison(makePoison(i)).catch((err: unknown) => err));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const reads = await Promise.all(
      Array.from({ length: 200 }, () => h.call('GET', `/api/patients/${patientId}`, { token })),
    );
    reading = false;
    await injector;
    const refused = await Promise.all(poisons);
    const after = (
      await h.db
        .select({ seq: auditLog.seq })
        .from(auditLog)
        .where(and(eq(auditLog.patientId, patientId), eq(auditLog.action, 'patient.profile.read')))
    ).length;
    return {
      failedReads: reads.filter((r) => r.status !== 200).map((r) => r.status),
      refused,
      newReadEntries: after - before,
    };
  }

  it('200 concurrent reads all succeed while entries with a NUL or a lone surrogate are appended among them', async () => {
    const r = await readsAmid((i) => ({ reason: i % 2 ? `reason \u0000 ${i}` : `reason \ud800 ${i}` }));
    expect(r.failedReads).toEqual([]);
    expect(r.refused.length).toBeGreaterThan(10);
    expect(r.refused.every((e) => e instanceof Error)).toBe(true);
    expect(r.newReadEntries).toBe(200);
    expect(await h.db.select().from(auditLog).where(eq(auditLog.action, 'patient.break_glass'))).toHaveLength(
      0,
    );
    expect(await h.identity.audit.verify()).toMatchObject({ ok: true });
  });

  it('the same with a value only PostgreSQL refuses (not a boolean where one is stored): the batch is split, only that entry fails', async () => {
    const r = await readsAmid(() => ({ breakGlass: 'maybe' as unknown as boolean }));
    expect(r.failedReads).toEqual([]);
    expect(r.refused.length).toBeGreaterThan(10);
    expect(r.refused.every((e) => e instanceof Error)).toBe(true);
    expect(r.newReadEntries).toBe(200);
    expect(await h.db.select().from(auditLog).where(eq(auditLog.action, 'patient.break_glass'))).toHaveLength(
      0,
    );
    expect(await h.identity.audit.verify()).toMatchObject({ ok: true });
  });

  it('a clean entry appended right after a refused one chains onto the real head', async () => {
    await expect(poison({ breakGlass: 'perhaps' as unknown as boolean })).rejects.toThrow();
    const row = await poison({ reason: 'a normal reason' });
    expect(row.reason).toBe('a normal reason');
    expect(await h.identity.audit.verify()).toMatchObject({ ok: true, head: row.hash });
  });
});
