import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../../db/rows.ts';
import { ENGINES, openTestEngine } from '../../../test/helpers/engines.ts';
import { startTestNode } from '../../../test/helpers/node.ts';
import { createApp } from '../../app.ts';
import { loadConfig } from '../../config.ts';
import { seedClinic } from '../../messaging/test-support/chat-fixture.ts';
import { createServices } from '../../services.ts';
import { readCodeList } from './codes-file.ts';
import { ICD10_SEARCH_RATE } from './icd10-search-service.ts';
import { ensureIcd10Codes } from './loader.ts';

const shipped = readCodeList().codes.length;

describe.each(ENGINES)('ICD-10 search for the encounter form on %s', (engine) => {
  let t: Awaited<ReturnType<typeof openTestEngine>>;
  let call: (path: string, token?: string) => Promise<{ status: number; body: any; headers: Headers }>;
  const tok: Record<string, string> = {};
  const count = async () =>
    rowsOf<{ n: number }>(await t.handle.db.execute(sql`select count(*)::int as n from icd10_codes`))[0]!.n;

  beforeAll(async () => {
    t = await openTestEngine(engine);
    const config = loadConfig({
      NODE_ENV: 'test',
      DEMO: 'off',
      PASSWORD_HASH_STRENGTH: 'minimum',
      AUDIT_CHAIN_KEY: randomBytes(32).toString('base64'),
    });
    const logger = pino({ level: 'silent' });
    const services = await createServices(config, { db: t.handle.db, logger });
    const app = createApp(services, {
      logger,
      turn: undefined,
      demo: undefined,
      registry: new Registry(),
      checks: {},
    });
    call = async (path, token) => {
      const res = await app.request(
        path,
        { headers: token ? { authorization: `Bearer ${token}` } : {} },
        { remoteAddress: '203.0.113.7' },
      );
      return { status: res.status, body: await res.json(), headers: res.headers };
    };
    const seed = await seedClinic(t.handle.db);
    const token = async (id: string, role: 'doctor' | 'patient' | 'operator') =>
      (await services.identity.sessions.create({ id, role }, { ip: '127.0.0.1', userAgent: 'test' }))
        .accessToken;
    tok.doctor = await token(seed.doctorId, 'doctor');
    tok.busyDoctor = await token(seed.otherDoctorId, 'doctor');
    tok.patient = await token(seed.patientId, 'patient');
    tok.operator = await token(seed.operatorId, 'operator');
  }, 60_000);
  afterAll(() => t?.close());

  it('loads the shipped list into an empty table without a manual step, once', async () => {
    expect(await count()).toBe(0);
    const loaded = await ensureIcd10Codes(t.handle.db);
    expect(loaded).toMatchObject({ inserted: shipped, updated: 0 });
    const started = performance.now();
    expect(await ensureIcd10Codes(t.handle.db)).toBeUndefined();
    // A restart with the list in place costs one count.
    expect(performance.now() - started).toBeLessThan(1000);
    // A code gone missing (or a newer list shipped) is loaded again at the next start.
    await t.handle.db.execute(sql`delete from icd10_codes where code = 'F41.1'`);
    expect(await ensureIcd10Codes(t.handle.db)).toMatchObject({ inserted: 1, unchanged: shipped - 1 });
    expect(await count()).toBe(shipped);
  });

  it('finds codes by prefix and by words, ranked, for doctors', async () => {
    const byCode = await call('/api/icd10?q=F32', tok.doctor);
    expect(byCode.status).toBe(200);
    const codes = byCode.body.matches.map((m: { code: string }) => m.code);
    expect(codes.length).toBeGreaterThan(3);
    expect(codes.every((c: string) => c.startsWith('F32'))).toBe(true);
    // Under a typed prefix the list reads in code order.
    expect(codes).toEqual([...codes].sort());
    const exact = await call('/api/icd10?q=f32.1', tok.doctor);
    expect(exact.body.matches[0]).toEqual({ code: 'F32.1', title: expect.stringMatching(/moderate/i) });
    const byWords = await call(`/api/icd10?q=${encodeURIComponent('major depress')}&limit=5`, tok.doctor);
    expect(byWords.body.matches.length).toBeGreaterThan(0);
    expect(byWords.body.matches.length).toBeLessThanOrEqual(5);
    expect(byWords.body.matches.every((m: { code: string }) => m.code.startsWith('F3'))).toBe(true);
    const typeTwo = await call(`/api/icd10?q=${encodeURIComponent('diabetes type 2')}`, tok.doctor);
    expect(typeTwo.body.matches[0].code).toMatch(/^E11/);
  });

  it('answers bad input with typed 400s', async () => {
    const missing = await call('/api/icd10', tok.doctor);
    expect([missing.status, missing.body.code]).toEqual([400, 'invalid_query']);
    for (const q of ['%20', encodeURIComponent('x'.repeat(101)), encodeURIComponent('!!!')]) {
      const r = await call(`/api/icd10?q=${q}`, tok.doctor);
      expect([r.status, r.body.code], q).toEqual([400, 'invalid_icd10_query']);
    }
    const limit = await call('/api/icd10?q=F32&limit=500', tok.doctor);
    expect([limit.status, limit.body.code]).toEqual([400, 'invalid_icd10_query']);
  });

  it('is for doctors only', async () => {
    for (const role of ['patient', 'operator']) {
      const r = await call('/api/icd10?q=F32', tok[role]);
      expect([r.status, r.body.code], role).toEqual([403, 'forbidden']);
    }
    expect((await call('/api/icd10?q=F32')).status).toBe(401);
  });

  it('is rate-limited per doctor (429 with Retry-After), other doctors unaffected', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < ICD10_SEARCH_RATE.burst + 5; i++)
      statuses.push((await call(`/api/icd10?q=F${i % 10}`, tok.busyDoctor)).status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(ICD10_SEARCH_RATE.burst);
    const refused = await call('/api/icd10?q=F32', tok.busyDoctor);
    expect([refused.status, refused.body.code]).toEqual([429, 'rate_limited']);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await call('/api/icd10?q=F32', tok.doctor)).status).toBe(200);
  });
});

it('a node starting on a fresh database has the ICD-10 codes loaded', async () => {
  const t = await startTestNode({ SCHEDULING_WORKER: 'off', WEBHOOK_WORKER: 'off' });
  try {
    const [row] = rowsOf<{ n: number }>(
      await t.node.db.db.execute(sql`select count(*)::int as n from icd10_codes`),
    );
    expect(row!.n).toBe(shipped);
    expect(t.logs.lines.some((l) => l.includes('ICD-10 codes loaded'))).toBe(true);
  } finally {
    await t.node.stop();
  }
}, 60_000);
