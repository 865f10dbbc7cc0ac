import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { Db } from '../../../db/client.ts';
import {
  appointments,
  careRelationships,
  clinicMembers,
  users,
  type AppointmentStatus,
  type UserRole,
} from '../../../db/schema/index.ts';
import { openTestEngine, type Engine } from '../../../test/helpers/engines.ts';
import { createApp } from '../../app.ts';
import { loadConfig } from '../../config.ts';
import { seedClinic, userActor } from '../../messaging/test-support/chat-fixture.ts';
import { createServices } from '../../services.ts';
import type { FinaliseStep, SummarySigning } from '../encounters/deps.ts';
import { loadIcd10Codes } from '../icd10/loader.ts';
import { loadPdfFonts } from '../pdf/fonts.ts';
import { DeploymentCa } from '../signing/ca.ts';

/** One test CA and the fonts, shared by a test file's harnesses (an RSA key takes a while to make). */
async function testSigning(): Promise<SummarySigning & { caPem: string }> {
  const pems = await DeploymentCa.generate({ commonName: 'CareCall test CA', organization: 'CareCall' });
  const ca = await DeploymentCa.load(
    { caCertificatePem: pems.certificatePem, caPrivateKeyPem: pems.privateKeyPem, caDir: '', pdfFontDir: '' },
    { env: 'production' },
  );
  const fonts = loadPdfFonts(loadConfig({}).records.pdfFontDir);
  return { ca, fonts, caPem: pems.certificatePem };
}

/**
 * The real services and app (policy, audit, encryption, blob store, PDF signing) on a fresh
 * database of either engine, with a seeded clinic (chat-fixture's seedClinic), ICD-10 codes
 * loaded, a care relationship between the clinic's doctor and patient, and another clinic. `fail`
 * makes a finalisation step throw: the seam the all-or-nothing tests use. `maxConnections` sizes
 * the PostgreSQL pool (4 by default; the records benchmark runs more in flight).
 */
export async function startRecordsHarness(engine: Engine, opts: { maxConnections?: number } = {}) {
  const t = await openTestEngine(engine, opts);
  const db = t.handle.db;
  const blobDir = await mkdtemp(join(tmpdir(), 'carecall-records-'));
  const signing = await testSigning();
  const failing: { step: FinaliseStep | undefined } = { step: undefined };
  const config = loadConfig({
    NODE_ENV: 'test',
    DEMO: 'off',
    PASSWORD_HASH_STRENGTH: 'minimum',
    AUDIT_CHAIN_KEY: randomBytes(32).toString('base64'),
    DATA_KEK: randomBytes(32).toString('base64'),
    BLOB_STORE_DIR: blobDir,
  });
  const logger = pino({ level: 'silent' });
  const services = await createServices(
    config,
    { db, logger },
    {
      publicUrl: () => 'https://carecall.example',
      summarySigning: async () => signing,
      beforeFinaliseStep: (step) => {
        if (failing.step === step) throw new Error(`failure injected at ${step}`);
      },
    },
  );
  const app = createApp(services, {
    logger,
    turn: undefined,
    demo: undefined,
    registry: new Registry(),
    checks: {},
  });
  await loadIcd10Codes(db);

  const seed = await seedClinic(db);
  await db.insert(careRelationships).values({
    clinicId: seed.clinicId,
    doctorId: seed.doctorId,
    patientId: seed.patientId,
    createdBy: seed.doctorId,
  });
  const other = await seedClinic(db);
  const user = async (role: UserRole, clinicId?: string) => {
    const id = randomUUID();
    await db
      .insert(users)
      .values({ id, role, email: `${id}@example.test`, displayName: `${role} ${id.slice(0, 4)}` });
    if (clinicId) await db.insert(clinicMembers).values({ clinicId, userId: id });
    return id;
  };
  const partnerId = await user('partner', seed.clinicId);
  const otherPatientId = await user('patient', seed.clinicId);
  const tokenFor = async (id: string, role: UserRole) =>
    (await services.identity.sessions.create({ id, role }, { ip: '127.0.0.1', userAgent: 'test' }))
      .accessToken;

  const call = async (
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: Uint8Array } = {},
  ) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: BodyInit | undefined;
    if (opts.raw) body = opts.raw as unknown as BodyInit;
    else if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const res = await app.request(
      path,
      { method, headers, ...(body ? { body } : {}) },
      { remoteAddress: '203.0.113.7' },
    );
    const bytes = Buffer.from(await res.arrayBuffer());
    const type = res.headers.get('content-type') ?? '';
    const json = type.includes('json') && bytes.length ? JSON.parse(bytes.toString('utf8')) : undefined;
    return { status: res.status, body: json, bytes, headers: res.headers, contentType: type };
  };

  // After the seeded appointments (in one and three hours).
  const firstSlot = Date.now() + 24 * 3_600_000;
  let slotsTaken = 0;
  /** An appointment of the seeded doctor with the patient, in the given status (a fresh one each time). */
  const appointment = async (status: AppointmentStatus = 'in_call', patientId = seed.patientId) => {
    const [base] = await db.select().from(appointments).where(eq(appointments.id, seed.appointmentId));
    const id = randomUUID();
    // Each its own half hour: random times clashed now and then with the doctor's no-overlap constraint.
    const startsAt = new Date(firstSlot + slotsTaken++ * 1_800_000);
    await db.insert(appointments).values({
      ...base!,
      id,
      patientId,
      status,
      startsAt,
      endsAt: new Date(startsAt.getTime() + 1_800_000),
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    return id;
  };

  /** A complete file sent in the appointment's room chat by its doctor, through the tus API. */
  const chatFile = async (appointmentId: string, token: string, bytes: Buffer) => {
    const room = await services.messaging
      .forActor(userActor(seed.doctorId, 'doctor', [seed.clinicId], 'admitted'))
      .roomConversation(appointmentId);
    const meta = (m: Record<string, string>) =>
      Object.entries(m)
        .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
        .join(',');
    const created = await app.request(
      '/api/files/uploads',
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'tus-resumable': '1.0.0',
          'upload-length': String(bytes.length),
          'upload-metadata': meta({
            conversationId: room.id,
            filename: 'befund März.pdf',
            filetype: 'application/pdf',
          }),
        },
      },
      { remoteAddress: '203.0.113.7' },
    );
    if (created.status !== 201) throw new Error(`upload refused: ${created.status} ${await created.text()}`);
    const id = created.headers.get('location')!.split('/').pop()!;
    const patched = await app.request(
      `/api/files/uploads/${id}`,
      {
        method: 'PATCH',
        headers: {
          authorization: `Bearer ${token}`,
          'tus-resumable': '1.0.0',
          'upload-offset': '0',
          'content-type': 'application/offset+octet-stream',
        },
        body: new Uint8Array(bytes),
      },
      { remoteAddress: '203.0.113.7' },
    );
    if (patched.status !== 204)
      throw new Error(`upload not written: ${patched.status} ${await patched.text()}`);
    return id;
  };

  /** Every blob in the store (the names of encrypted file parts and record documents). */
  const blobNames = async (): Promise<string[]> => {
    const objects = join(blobDir, 'objects');
    const out: string[] = [];
    for (const dir of await readdir(objects).catch(() => [] as string[]))
      out.push(...(await readdir(join(objects, dir)).catch(() => [] as string[])));
    return out.sort();
  };

  return {
    db: db as Db,
    engine,
    services,
    app,
    call,
    seed,
    other,
    partnerId,
    otherPatientId,
    tokenFor,
    appointment,
    chatFile,
    blobNames,
    blobDir,
    signing,
    failing,
    close: async () => {
      await t.close();
      await rm(blobDir, { recursive: true, force: true });
    },
  };
}

export type RecordsHarness = Awaited<ReturnType<typeof startRecordsHarness>>;

/** A draft body with two diagnoses. */
export const sampleDraft = (over: Record<string, unknown> = {}) => ({
  reasonForVisit: 'Low mood and poor sleep for six weeks.',
  findings: 'PHQ-9 score 14. No suicidal ideation.',
  notes: 'Discussed options; patient prefers medication first.',
  diagnoses: [{ code: 'F32.1' }, { code: 'f5101', display: 'Insomnia, primary' }],
  recommendations: ['Sertraline 50 mg once daily.', 'Sleep hygiene leaflet.'],
  followUp: { interval: 'P4W', note: 'Video follow-up.' },
  ...over,
});
