import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDb } from '../../db/client.ts';
import { startIdentityHarness, type IdentityHarness } from '../../test/helpers/identity.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { runWithContext } from '../request-context.ts';
import { AuditLog } from './audit-log.ts';
import { canonicalJson } from './canonical-json.ts';

type RawRow = Record<string, any>;

/** The hashed fields as the database holds them (what an attacker reading the table sees). */
const fieldsOf = (r: RawRow) => ({
  id: r.id,
  at: new Date(r.at).toISOString(),
  actorId: r.actor_id,
  actorRole: r.actor_role,
  onBehalfOf: r.on_behalf_of,
  sessionId: r.session_id,
  ip: r.ip,
  requestId: r.request_id,
  action: r.action,
  outcome: r.outcome,
  resourceType: r.resource_type,
  resourceId: r.resource_id,
  patientId: r.patient_id,
  clinicId: r.clinic_id,
  breakGlass: r.break_glass,
  reason: r.reason,
  prevHash: r.prev_hash,
});
const sha256 = (value: unknown) => createHash('sha256').update(canonicalJson(value)).digest('hex');

/**
 * What a superuser can do without the key: change the entry at `fromSeq` and re-chain it and every
 * later one with plain sha256 (trigger bypassed). `relabel` also marks them as unkeyed entries.
 */
async function rewriteFrom(
  raw: postgres.Sql,
  fromSeq: number,
  change: Record<string, string>,
  opts: { relabel?: boolean } = {},
) {
  await raw.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`update audit_log set ${tx(change)} where seq = ${fromSeq}`;
    const [before] = await tx`select hash from audit_log where seq < ${fromSeq} order by seq desc limit 1`;
    let prev: string = before?.hash ?? '0'.repeat(64);
    for (const row of await tx`select * from audit_log where seq >= ${fromSeq} order by seq`) {
      const hash = sha256(fieldsOf({ ...row, prev_hash: prev }));
      await tx`update audit_log set prev_hash = ${prev}, hash = ${hash} where seq = ${row.seq}`;
      if (opts.relabel) await tx`update audit_log set hash_version = 1 where seq = ${row.seq}`;
      prev = hash;
    }
  });
}

describe('keyed audit chain: rows cannot be rewritten and re-chained without the key', () => {
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

  const record = () =>
    runWithContext(
      {
        requestId: randomUUID(),
        ip: '198.51.100.4',
        userAgent: 'test',
        actorId: randomUUID(),
        actorRole: 'doctor',
      },
      () =>
        h.identity.audit.record({
          action: 'patient.notes.read',
          outcome: 'allowed',
          resourceType: 'patient',
          resourceId: randomUUID(),
        }),
    );

  it('a post-checkpoint entry rewritten and re-chained with plain sha256 is found, with or without the checkpoint', async () => {
    await record();
    const checkpoint = (await h.identity.audit.head())!;
    await record();
    const victim = await record();
    await record();
    expect(await h.identity.audit.verify({ checkpoint })).toMatchObject({ ok: true });
    // Hide who read the notes: a new actor, and the chain recomputed from there to the head.
    await rewriteFrom(raw, victim.seq, { actor_id: randomUUID() });
    expect(await h.identity.audit.verify({ checkpoint })).toMatchObject({
      ok: false,
      brokenAt: { seq: victim.seq, id: victim.id, problem: 'hash_mismatch' },
    });
    expect(await h.identity.audit.verify()).toMatchObject({
      ok: false,
      brokenAt: { seq: victim.seq, problem: 'hash_mismatch' },
    });
  });
});

describe('keyed audit chain: relabelling entries as unkeyed, other keys, gaps', () => {
  let h: IdentityHarness;
  let raw: postgres.Sql;
  beforeEach(async () => {
    h = await startIdentityHarness();
    raw = postgres(h.databaseUrl, { max: 1, onnotice: () => {} });
  });
  afterEach(async () => {
    await raw.end();
    await h.close();
  });
  const record = (audit = h.identity.audit) =>
    runWithContext({ requestId: randomUUID(), ip: '198.51.100.4', userAgent: 'test' }, () =>
      audit.record({
        action: 'patient.notes.read',
        outcome: 'allowed',
        resourceType: 'patient',
        resourceId: randomUUID(),
      }),
    );

  it('rewritten entries relabelled as unkeyed (the legacy hash) are refused after a keyed one, and as the newest entry', async () => {
    await record();
    const victim = await record();
    await record();
    await rewriteFrom(raw, victim.seq, { actor_id: randomUUID() }, { relabel: true });
    expect(await h.identity.audit.verify()).toMatchObject({
      ok: false,
      brokenAt: { seq: victim.seq, problem: 'unkeyed_entry' },
    });
    // The whole chain relabelled: nothing keyed left before it, but the newest entry must be keyed.
    const first = (await raw`select min(seq)::int as seq from audit_log`)[0]!.seq as number;
    await rewriteFrom(raw, first, { ip: '192.0.2.1' }, { relabel: true });
    const v = await h.identity.audit.verify();
    expect(v).toMatchObject({ ok: false, brokenAt: { problem: 'unkeyed_entry' } });
  });

  it('entries chained with another key do not verify; entries of nodes sharing the key do', async () => {
    await record(new AuditLog(h.db, h.chainKey));
    await record();
    expect(await h.identity.audit.verify()).toMatchObject({ ok: true, checked: 2, unkeyed: 0 });
    const forged = await record(new AuditLog(h.db, randomBytes(32)));
    expect(await h.identity.audit.verify()).toMatchObject({
      ok: false,
      brokenAt: { seq: forged.seq, problem: 'hash_mismatch' },
    });
  });

  it('sequence numbers left unused by rolled-back appends are warnings, not failures', async () => {
    const first = await record();
    await expect(
      h.db.transaction(async (tx) => {
        await h.identity.audit.appendWithin(tx, [
          h.identity.audit.entry({
            action: 'patient.notes.read',
            outcome: 'allowed',
            resourceType: 'patient',
          }),
        ]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const next = await record();
    expect(next.seq).toBeGreaterThan(first.seq + 1);
    expect(await h.identity.audit.verify()).toMatchObject({
      ok: true,
      checked: 2,
      warnings: { seqGaps: 1, firstSeqGaps: [{ afterSeq: first.seq, nextSeq: next.seq }] },
    });
  });
});

describe('keyed audit chain: a chain written before the key was introduced still verifies', () => {
  const folder = mkdtempSync(join(tmpdir(), 'carecall-migrations-'));
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  afterAll(async () => {
    rmSync(folder, { recursive: true, force: true });
    await database?.drop();
  });

  it('legacy entries (plain sha256, written by the code before the migration) verify, keyed ones follow, and tampering with either is found', async () => {
    // The database as the previous release left it: every migration before the keyed chain.
    const source = new URL('../../db/migrations', import.meta.url).pathname;
    cpSync(source, folder, { recursive: true });
    const journal = JSON.parse(readFileSync(join(folder, 'meta/_journal.json'), 'utf8'));
    journal.entries = journal.entries.filter((e: { tag: string }) => e.tag < '0007');
    writeFileSync(join(folder, 'meta/_journal.json'), JSON.stringify(journal));
    database = await createTestDatabase();
    const raw = postgres(database.url, { max: 1, onnotice: () => {} });
    await migrate(drizzle(raw), { migrationsFolder: folder });
    // Three entries appended the old way: sha256 of the canonical fields, chained.
    let prev = '0'.repeat(64);
    const legacy: string[] = [];
    for (let i = 0; i < 3; i++) {
      const row = {
        id: randomUUID(),
        at: new Date(Date.UTC(2026, 0, 1, 0, i)),
        actor_id: randomUUID(),
        actor_role: 'doctor',
        on_behalf_of: null,
        session_id: null,
        ip: '10.0.0.1',
        request_id: randomUUID(),
        action: 'patient.notes.read',
        outcome: 'allowed',
        resource_type: 'patient',
        resource_id: randomUUID(),
        patient_id: null,
        clinic_id: null,
        break_glass: false,
        reason: null,
        prev_hash: prev,
      };
      const hash = sha256(fieldsOf(row));
      await raw`insert into audit_log ${raw({ ...row, at: row.at.toISOString(), hash })}`;
      legacy.push(row.id);
      prev = hash;
    }
    const handle = await openDb({ databaseUrl: database.url, maxConnections: 2 });
    try {
      const audit = new AuditLog(handle.db, randomBytes(32));
      // Until a keyed entry follows them, unkeyed entries are the head: a node keys it on start.
      expect(await audit.verify()).toMatchObject({
        ok: false,
        brokenAt: { seq: 3, problem: 'unkeyed_entry' },
      });
      await audit.keyChainHead();
      await audit.keyChainHead();
      await runWithContext({ requestId: randomUUID(), ip: '127.0.0.1', userAgent: 't' }, () =>
        audit.record({ action: 'patient.notes.read', outcome: 'allowed', resourceType: 'patient' }),
      );
      expect(await audit.verify()).toMatchObject({ ok: true, checked: 5, unkeyed: 3 });
      const versions = await raw`select action, hash_version from audit_log order by seq`;
      expect(versions.map((v) => v.hash_version)).toEqual([1, 1, 1, 2, 2]);
      expect(versions[3]!.action).toBe('audit.chain_keyed');
      // Everything from the first keyed entry rewritten as legacy: the newest entry is no longer keyed.
      await rewriteFrom(raw, 4, { ip: '192.0.2.9' }, { relabel: true });
      expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: { problem: 'unkeyed_entry' } });
      // A legacy entry edited without re-chaining is found as before.
      await raw.begin(async (tx) => {
        await tx`set local session_replication_role = replica`;
        await tx`update audit_log set ip = '192.0.2.1' where id = ${legacy[1]!}`;
      });
      expect(await audit.verify()).toMatchObject({
        ok: false,
        brokenAt: { seq: 2, problem: 'hash_mismatch' },
      });
    } finally {
      await handle.close();
      await raw.end();
    }
  });
});
