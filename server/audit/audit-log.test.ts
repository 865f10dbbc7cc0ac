import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { randomUUID } from 'node:crypto';
import { auditLog } from '../../db/schema/index.ts';
import { runWithContext } from '../request-context.ts';
import { startIdentityHarness, type IdentityHarness } from '../../test/helpers/identity.ts';
import { canonicalJson } from './canonical-json.ts';
import { AuditLog, GENESIS_HASH } from './audit-log.ts';

describe('hash-chained audit log', () => {
  let h: IdentityHarness;
  let raw: postgres.Sql;
  beforeAll(async () => {
    h = await startIdentityHarness();
    raw = postgres(h.databaseUrl, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await raw.end();
    await h.close();
  });

  const record = (patientId: string) =>
    runWithContext(
      {
        requestId: randomUUID(),
        ip: '198.51.100.4',
        userAgent: 'test',
        actorId: randomUUID(),
        actorRole: 'guardian',
        onBehalfOf: patientId,
      },
      () =>
        h.identity.audit.record({
          action: 'patient.profile.read',
          outcome: 'allowed',
          resourceType: 'patient',
          resourceId: patientId,
          patientId,
        }),
    );

  it('canonical JSON ignores key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x'], c: null } })).toBe(
      canonicalJson({ a: { c: null, d: [1, 'x'] }, b: 1 }),
    );
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });

  it('records who, for whom, from where; links each entry to the previous one', async () => {
    const p = randomUUID();
    const first = await record(p);
    const second = await record(p);
    expect(second.prevHash).toBe(first.hash);
    expect(second).toMatchObject({
      ip: '198.51.100.4',
      actorRole: 'guardian',
      onBehalfOf: p,
      patientId: p,
      action: 'patient.profile.read',
    });
    const v = await h.identity.audit.verify();
    expect(v).toMatchObject({ ok: true, head: second.hash });
    expect(v.checked).toBeGreaterThanOrEqual(2);
  });

  it('stays one linear chain under 40 concurrent appends', async () => {
    await Promise.all(Array.from({ length: 40 }, () => record(randomUUID())));
    const rows = await h.db.select({ prev: auditLog.prevHash, hash: auditLog.hash }).from(auditLog);
    const prevs = new Set(rows.map((r) => r.prev));
    expect(prevs.size).toBe(rows.length); // no two entries claim the same predecessor: no fork
    expect(rows.filter((r) => r.prev === GENESIS_HASH)).toHaveLength(1);
    expect((await h.identity.audit.verify()).ok).toBe(true);
  });

  it('two nodes appending in turn (each guessing its own last entry as the head) and a rolled-back append keep one valid chain', async () => {
    const nodes = [h.identity.audit, new AuditLog(h.db, h.chainKey), new AuditLog(h.db, h.chainKey)];
    const entry = (log: AuditLog) =>
      log.entry({
        action: 'patient.profile.read',
        outcome: 'allowed',
        resourceType: 'patient',
        resourceId: randomUUID(),
      });
    for (let round = 0; round < 3; round++) {
      await Promise.all(nodes.map((log) => log.append(entry(log))));
      // A transaction that appends and then rolls back leaves its node with a wrong guess.
      await expect(
        h.db.transaction(async (tx) => {
          await nodes[round]!.appendWithin(tx, [entry(nodes[round]!)]);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
    }
    const rows = await h.db.select({ prev: auditLog.prevHash }).from(auditLog);
    expect(new Set(rows.map((r) => r.prev)).size).toBe(rows.length);
    expect((await h.identity.audit.verify()).ok).toBe(true);
  });

  it('the database refuses UPDATE and DELETE on the audit log', async () => {
    await expect(raw`update audit_log set ip = '1.2.3.4'`).rejects.toThrow(/append-only/);
    await expect(raw`delete from audit_log`).rejects.toThrow(/append-only/);
  });

  it('deleting the newest entries is invisible to the chain alone, but not to a checkpoint taken before', async () => {
    const p = randomUUID();
    await record(p);
    const checkpoint = (await h.identity.audit.head())!;
    await record(p);
    expect(await h.identity.audit.verify({ checkpoint })).toMatchObject({ ok: true });
    // A superuser removes the last two entries (trigger bypassed).
    await raw.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`delete from audit_log where seq >= ${checkpoint.seq}`;
    });
    expect((await h.identity.audit.verify()).ok).toBe(true);
    expect(await h.identity.audit.verify({ checkpoint })).toMatchObject({
      ok: false,
      brokenAt: { seq: checkpoint.seq, id: null, problem: 'truncated' },
    });
    // An entry appended afterwards cannot pass for the deleted one.
    await record(p);
    expect(await h.identity.audit.verify({ checkpoint })).toMatchObject({
      ok: false,
      brokenAt: { seq: checkpoint.seq, id: null, problem: 'checkpoint_missing' },
    });
  });

  it('verify() finds an entry edited with raw SQL (trigger bypassed, as a superuser could)', async () => {
    const p = randomUUID();
    const victim = await record(p);
    await record(p);
    expect((await h.identity.audit.verify()).ok).toBe(true);
    // Someone with superuser rights hides who looked at the record.
    await raw.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`update audit_log set actor_id = ${randomUUID()} where seq = ${victim.seq}`;
    });
    const v = await h.identity.audit.verify();
    expect(v).toMatchObject({
      ok: false,
      brokenAt: { seq: victim.seq, id: victim.id, problem: 'hash_mismatch' },
    });
  });
});
