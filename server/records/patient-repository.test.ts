import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, patientNotes } from '../../db/schema/index.ts';
import { rowsOf } from '../../db/rows.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import {
  createClinic,
  createUser,
  relate,
  signIn,
  startIdentityHarness,
  storedNotes,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';

/** Every form in which a note's text could show up in a column. */
const forms = (text: string) => [
  text,
  Buffer.from(text).toString('hex'),
  Buffer.from(text).toString('base64'),
];

describe('patient notes through the repository (real PostgreSQL)', () => {
  let h: IdentityHarness;
  let clinicId: string;
  let doctor: { id: string; email: string };
  let patient: { id: string; email: string };
  let token: string;

  beforeAll(async () => {
    h = await startIdentityHarness();
    clinicId = await createClinic(h.db);
    doctor = await createUser(h.identity, h.db, { role: 'doctor', clinicId });
    patient = await createUser(h.identity, h.db, { role: 'patient', clinicId });
    await relate(h.db, clinicId, doctor.id, patient.id);
    token = (await signIn(h.call, h.db, doctor.email)).accessToken;
  });
  afterAll(() => h?.close());

  const entriesFor = (patientId: string, action: string) =>
    h.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.patientId, patientId), eq(auditLog.action, action)));
  const addNote = (body: string) =>
    h.call('POST', `/api/patients/${patient.id}/notes`, { token, body: { body } });

  it('the table holds ciphertext only: no form of the text in any column, and the API reads it back', async () => {
    const secret = `Suspected pericarditis ${randomUUID()}`;
    const written = await addNote(secret);
    expect(written.status).toBe(201);
    expect(written.body.body).toBe(secret);
    const [row] = await h.db.select().from(patientNotes).where(eq(patientNotes.id, written.body.id));
    expect(row!.plaintextBody).toBeNull();
    expect(row!.sealedBody!.length).toBeGreaterThan(secret.length);
    const asText = rowsOf<{ row: string }>(
      await h.db.execute(sql`select t::text as row from patient_notes t where id = ${written.body.id}`),
    )[0]!.row;
    for (const form of forms(secret)) {
      expect(asText, 'row as text').not.toContain(form);
      expect(Buffer.from(row!.sealedBody!).includes(Buffer.from(form)), 'sealed bytes').toBe(false);
    }
    const read = await h.call('GET', `/api/patients/${patient.id}/notes`, { token });
    expect(read.body.notes.find((n: { id: string }) => n.id === written.body.id)).toMatchObject({
      body: secret,
      authorId: doctor.id,
      clinicId,
    });
  });

  it('a note and its audit entries commit together: when the audit insert fails, the note is not there either', async () => {
    // PostgreSQL itself refuses the audit entry, after the note's insert in the same transaction.
    await h.db.execute(
      sql.raw(`create function refuse_note_audit() returns trigger language plpgsql as $$ begin
      if new.action = 'patient.note.created' then raise exception 'audit refused by the test'; end if; return new; end $$`),
    );
    await h.db.execute(
      sql.raw(
        'create trigger refuse_note_audit before insert on audit_log for each row execute function refuse_note_audit()',
      ),
    );
    const before = await storedNotes(h.services, h.db, patient.id);
    const decisionsBefore = (await entriesFor(patient.id, 'patient.notes.write')).length;
    try {
      const refused = await addNote('must not be stored without its audit entry');
      expect(refused.status).toBe(500);
      expect(refused.body.code).toBe('internal');
    } finally {
      await h.db.execute(
        sql.raw('drop trigger refuse_note_audit on audit_log; drop function refuse_note_audit()'),
      );
    }
    expect(await storedNotes(h.services, h.db, patient.id)).toEqual(before);
    expect(await entriesFor(patient.id, 'patient.notes.write')).toHaveLength(decisionsBefore);
    // With the database accepting again, the next note lands with both of its entries.
    const written = await addNote('stored with its audit entry');
    expect(written.status).toBe(201);
    expect((await entriesFor(patient.id, 'patient.note.created')).map((e) => e.resourceId)).toContain(
      written.body.id,
    );
    expect(await entriesFor(patient.id, 'patient.notes.write')).toHaveLength(decisionsBefore + 1);
  });

  it('and the other way round: when the note insert fails, neither the decision nor the creation is audited', async () => {
    await h.db.execute(
      sql.raw(
        `create function refuse_note() returns trigger language plpgsql as $$ begin raise exception 'note refused by the test'; end $$`,
      ),
    );
    await h.db.execute(
      sql.raw(
        'create trigger refuse_note before insert on patient_notes for each row execute function refuse_note()',
      ),
    );
    const created = (await entriesFor(patient.id, 'patient.note.created')).length;
    const decisions = (await entriesFor(patient.id, 'patient.notes.write')).length;
    try {
      expect((await addNote('refused by the table')).status).toBe(500);
    } finally {
      await h.db.execute(sql.raw('drop trigger refuse_note on patient_notes; drop function refuse_note()'));
    }
    expect(await entriesFor(patient.id, 'patient.note.created')).toHaveLength(created);
    expect(await entriesFor(patient.id, 'patient.notes.write')).toHaveLength(decisions);
    expect(await h.identity.audit.verify()).toMatchObject({ ok: true });
  });

  it('a read that cannot be audited returns no notes', async () => {
    await h.db.execute(
      sql.raw(`create function refuse_read_audit() returns trigger language plpgsql as $$ begin
      if new.action = 'patient.notes.read' then raise exception 'audit refused by the test'; end if; return new; end $$`),
    );
    await h.db.execute(
      sql.raw(
        'create trigger refuse_read_audit before insert on audit_log for each row execute function refuse_read_audit()',
      ),
    );
    try {
      const read = await h.call('GET', `/api/patients/${patient.id}/notes`, { token });
      expect(read.status).toBe(500);
      expect(JSON.stringify(read.body)).not.toContain('stored with its audit entry');
    } finally {
      await h.db.execute(
        sql.raw('drop trigger refuse_read_audit on audit_log; drop function refuse_read_audit()'),
      );
    }
  });

  it('every row has exactly one body: the table refuses a row with none or with both', async () => {
    const insert = (values: { sealedBody?: Uint8Array; plaintextBody?: string }) =>
      h.db
        .insert(patientNotes)
        .values({ id: randomUUID(), patientId: patient.id, clinicId, authorId: doctor.id, ...values });
    await expect(insert({})).rejects.toMatchObject({ cause: { code: '23514' } });
    await expect(
      insert({ sealedBody: new Uint8Array([1, 2, 3]), plaintextBody: 'both' }),
    ).rejects.toMatchObject({ cause: { code: '23514' } });
  });
});

describe('notes written before sealing (migration 0011 and the start-up step)', () => {
  const folder = mkdtempSync(join(tmpdir(), 'carecall-migrations-'));
  let h: IdentityHarness | undefined;
  let legacy: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  afterAll(async () => {
    rmSync(folder, { recursive: true, force: true });
    await h?.close();
    await legacy?.drop();
  });

  it('keeps their text through the migration, seals it at start-up, and serves it as before', async () => {
    h = await startIdentityHarness();
    const clinicId = await createClinic(h.db);
    const doctor = await createUser(h.identity, h.db, { role: 'doctor', clinicId });
    const patient = await createUser(h.identity, h.db, { role: 'patient', clinicId });
    await relate(h.db, clinicId, doctor.id, patient.id);
    // A database as the previous release left it (every migration before 0011), with a plaintext note.
    const source = new URL('../../db/migrations', import.meta.url).pathname;
    cpSync(source, folder, { recursive: true });
    const journal = JSON.parse(readFileSync(join(folder, 'meta/_journal.json'), 'utf8'));
    const all = journal.entries;
    journal.entries = all.filter((e: { tag: string }) => e.tag < '0011');
    writeFileSync(join(folder, 'meta/_journal.json'), JSON.stringify(journal));
    legacy = await createTestDatabase();
    const raw = postgres(legacy.url, { max: 1, onnotice: () => {} });
    try {
      await migrate(drizzle(raw), { migrationsFolder: folder });
      const [p, d, c, noteId] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      await raw`insert into users (id, role, display_name) values (${p}, 'patient', 'p'), (${d}, 'doctor', 'd')`;
      await raw`insert into clinics (id, name) values (${c}, 'c')`;
      await raw`insert into patient_notes (id, patient_id, clinic_id, author_id, body) values (${noteId}, ${p}, ${c}, ${d}, 'written before sealing')`;
      journal.entries = all;
      writeFileSync(join(folder, 'meta/_journal.json'), JSON.stringify(journal));
      await migrate(drizzle(raw), { migrationsFolder: folder });
      const [migrated] =
        await raw`select plaintext_body, sealed_body from patient_notes where id = ${noteId}`;
      expect(migrated).toEqual({ plaintext_body: 'written before sealing', sealed_body: null });
    } finally {
      await raw.end();
    }

    // The same row in the app's database, and the start-up step.
    const noteId = randomUUID();
    await h.db.insert(patientNotes).values({
      id: noteId,
      patientId: patient.id,
      clinicId,
      authorId: doctor.id,
      plaintextBody: 'written before sealing',
    });
    expect(await h.services.records.sealPlaintextNotes(1)).toBeGreaterThanOrEqual(1);
    expect(await h.services.records.sealPlaintextNotes()).toBe(0);
    const [row] = await h.db.select().from(patientNotes).where(eq(patientNotes.id, noteId));
    expect(row!.plaintextBody).toBeNull();
    expect(Buffer.from(row!.sealedBody!).includes(Buffer.from('written before sealing'))).toBe(false);
    const token = (await signIn(h.call, h.db, doctor.email)).accessToken;
    const read = await h.call('GET', `/api/patients/${patient.id}/notes`, { token });
    expect(read.body.notes.map((n: { body: string }) => n.body)).toEqual(['written before sealing']);
  });
});
