import { inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type DbHandle } from '../db/client.ts';
import { appointments } from '../db/schema/index.ts';
import { AuditLog } from '../server/audit/audit-log.ts';
import { loadConfig } from '../server/config.ts';
import { auditChainKey, createIdentity } from '../server/identity/create-identity.ts';
import { loadAuthKeys } from '../server/identity/access-tokens.ts';
import { OutboxNotificationProvider } from '../server/notifications/outbox-provider.ts';
import { ed25519Pem, startNodeProcess, type NodeProcess } from './helpers/node-process.ts';
import { PgCluster } from './helpers/pg-cluster.ts';
import { seedSchedulingServices } from './helpers/scheduling-seed.ts';

const RESTARTS = 20;
const CLIENTS = 16;
const DOCTORS = 12;
const SLOT_MS = 30 * 60_000;
const BASE = Date.parse('2031-03-03T00:00:00Z');
/** A request still unanswered after this long counts as hung. */
const HUNG_MS = 15_000;

type Outcome = {
  kind: 'book' | 'read';
  status: number | 'hung' | 'network';
  ms: number;
  at: number;
  code?: string;
  retryAfter?: string | null;
  id?: string;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("PostgreSQL stopped and started under booking load (a cluster of this test's own)", () => {
  let cluster: PgCluster;
  let url: string;
  let node: NodeProcess;
  let token: string;
  let seed: Awaited<ReturnType<typeof seedSchedulingServices>>;
  const pem = ed25519Pem();

  beforeAll(async () => {
    cluster = await PgCluster.create();
    url = await cluster.createDatabase('carecall');
    const handle = await openDb({ databaseUrl: url, maxConnections: 4 });
    try {
      seed = await seedSchedulingServices(handle.db, { doctors: DOCTORS, patients: DOCTORS * 2 });
      const config = loadConfig({
        NODE_ENV: 'test',
        PASSWORD_HASH_STRENGTH: 'minimum',
        AUTH_TOKEN_PRIVATE_KEY: pem,
      });
      const identity = await createIdentity({
        db: handle.db,
        config: config.auth,
        notifier: new OutboxNotificationProvider(handle.db),
        publicUrl: () => 'http://carecall.test',
      });
      token = (
        await identity.sessions.create(
          { id: seed.operator.userId, role: 'operator' },
          { ip: '127.0.0.1', userAgent: 'outage-test' },
        )
      ).accessToken;
      await identity.passwords.close();
    } finally {
      await handle.close();
    }
    node = await startNodeProcess({
      DATABASE_URL: url,
      AUTH_TOKEN_PRIVATE_KEY: pem,
      PASSWORD_HASH_STRENGTH: 'minimum',
      DB_CONNECT_TIMEOUT_SECONDS: '2',
      DB_QUERY_TIMEOUT_SECONDS: '3',
      // The background worker keeps querying through the outages too.
      SCHEDULING_WORKER_TICK_MS: '200',
      LOG_LEVEL: 'warn',
    });
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await cluster?.destroy();
  });

  /** One request, timed; a request unanswered after HUNG_MS is aborted and counted as hung. */
  const call = async (kind: Outcome['kind'], path: string, init: RequestInit = {}): Promise<Outcome> => {
    const at = performance.now();
    try {
      const res = await fetch(`${node.baseUrl}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        signal: AbortSignal.timeout(HUNG_MS),
      });
      const answer = (await res.json()) as { id?: string; code?: string };
      return {
        kind,
        status: res.status,
        ms: performance.now() - at,
        at,
        code: answer.code,
        retryAfter: res.headers.get('retry-after'),
        id: answer.id,
      };
    } catch (err) {
      return {
        kind,
        status: (err as Error).name === 'TimeoutError' ? 'hung' : 'network',
        ms: performance.now() - at,
        at,
      };
    }
  };

  const book = (i: number) => {
    const body = {
      clinicId: seed.clinicId,
      doctorId: seed.doctorIds[i % DOCTORS],
      patientId: seed.patientIds[i % seed.patientIds.length],
      consultTypeId: seed.consultTypeId,
      startsAt: new Date(BASE + Math.floor(i / DOCTORS) * SLOT_MS).toISOString(),
      patientJurisdiction: 'DE',
    };
    return call('book', '/api/appointments', { method: 'POST', body: JSON.stringify(body) });
  };

  it(`${RESTARTS} stops and starts: the node stays up, answers 503 with Retry-After at once while the database is gone, serves again once it is back, and keeps every acknowledged booking`, async () => {
    const outcomes: Outcome[] = [];
    let next = 0;
    let running = true;
    const acked: string[] = [];
    const clients = Array.from({ length: CLIENTS }, async (_, c) => {
      for (let n = 0; running; n++) {
        // A quarter of the clients read appointments booked earlier (session lookup, policy, select).
        const o =
          c % 4 === 0 && acked.length
            ? await call('read', `/api/appointments/${acked[n % acked.length]}`)
            : await book(next++);
        outcomes.push(o);
        if (o.kind === 'book' && o.status === 201) acked.push(o.id!);
        if (o.status !== 201 && o.status !== 200) await sleep(20);
      }
    });
    const nodeDied = () => `node exited: ${node.stderr().slice(-3000)}`;
    const succeededSince = (t: number) =>
      outcomes.some((o) => o.kind === 'book' && o.status === 201 && o.at >= t);
    const recoveries: number[] = [];
    let readyWhileDown: number | undefined;
    try {
      for (let k = 0; k < RESTARTS; k++) {
        const upAt = performance.now();
        // Once the database is back, bookings sent after that succeed within a bounded time.
        while (!succeededSince(upAt)) {
          expect(node.alive(), nodeDied()).toBe(true);
          expect(performance.now() - upAt, `no booking succeeded within 10 s of restart ${k}`).toBeLessThan(
            10_000,
          );
          await sleep(20);
        }
        recoveries.push(performance.now() - upAt);
        await sleep(250);
        await cluster.stop(k % 2 ? 'immediate' : 'fast');
        await sleep(400);
        if (k === 0) readyWhileDown = (await fetch(`${node.baseUrl}/readyz`)).status;
        await cluster.start();
      }
      // Back for good: a stretch of bookings, all accepted, and reads of earlier ones.
      const backAt = performance.now();
      while (!succeededSince(backAt)) await sleep(20);
      const settledAt = performance.now() + 500;
      await sleep(1500);
      running = false;
      await Promise.all(clients);
      expect(node.alive(), nodeDied()).toBe(true);
      expect((await fetch(`${node.baseUrl}/readyz`)).status).toBe(200);
      expect(readyWhileDown).toBe(503);

      const statuses = new Map<string, number>();
      for (const o of outcomes)
        statuses.set(`${o.kind} ${o.status}`, (statuses.get(`${o.kind} ${o.status}`) ?? 0) + 1);
      // Only these answers exist: booked or read, or 503 (never a 500, never a hang, never a dropped connection).
      expect([...statuses.keys()].sort()).toEqual(['book 201', 'book 503', 'read 200', 'read 503']);
      const refused = outcomes.filter((o) => o.status === 503);
      expect(refused.every((o) => o.code === 'database_unavailable' && o.retryAfter === '5')).toBe(true);
      const slowest503 = Math.max(...refused.map((o) => o.ms));
      // Refused at once: connection refused/closed need no timeout; 5 s = connect timeout 2 s + deadline 3 s at worst.
      expect(slowest503).toBeLessThan(5000);
      const lastStretch = outcomes.filter((o) => o.at >= settledAt);
      expect(lastStretch.length).toBeGreaterThan(50);
      expect(lastStretch.every((o) => o.status === 201 || o.status === 200)).toBe(true);
      expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(HUNG_MS);

      expect(acked.length).toBe(statuses.get('book 201'));
      const handle: DbHandle = await openDb({ databaseUrl: url, maxConnections: 2 });
      try {
        const stored = await handle.db
          .select({ id: appointments.id })
          .from(appointments)
          .where(inArray(appointments.id, acked));
        expect(stored.length).toBe(acked.length);
        // The node's chain key comes from its AUTH_TOKEN_PRIVATE_KEY, as here.
        const key = auditChainKey({ auditChainKey: undefined }, loadAuthKeys(pem));
        expect((await new AuditLog(handle.db, key).verify()).ok).toBe(true);
      } finally {
        await handle.close();
      }
      const read = await fetch(`${node.baseUrl}/api/appointments/${acked[0]}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(read.status).toBe(200);
      expect(node.lines.filter((l) => l.msg === 'unhandled API error')).toEqual([]);
      console.log(
        JSON.stringify({
          restarts: RESTARTS,
          requests: outcomes.length,
          statuses: Object.fromEntries(statuses),
          slowest503Ms: Math.round(slowest503),
          p50_503Ms: Math.round(
            refused.map((o) => o.ms).sort((a, b) => a - b)[Math.floor(refused.length / 2)] ?? 0,
          ),
          recoveryAfterStartMs: {
            max: Math.round(Math.max(...recoveries)),
            median: Math.round(recoveries.sort((a, b) => a - b)[Math.floor(recoveries.length / 2)]!),
          },
        }),
      );
    } finally {
      running = false;
      await Promise.all(clients);
    }
  }, 150_000);
});
