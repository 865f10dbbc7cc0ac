import { Registry } from 'prom-client';
import type { Db } from '../../db/client.ts';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { createServices } from '../../server/services.ts';

/**
 * The real Hono app (auth middleware, zod, policy, audit, services) on the load-test database,
 * called in-process with app.request(): HTTP semantics without a socket, so the figure is the API's
 * cost, not the kernel's. Returns a signed-in operator's bearer token for booking.
 */
export async function httpBookingApp(db: Db, operator: { userId: string }, auditChainKey: Buffer) {
  // The audit chain key of the service phases: one deployment, one chain.
  const config = loadConfig({
    NODE_ENV: 'test',
    DEMO: 'off',
    PASSWORD_HASH_STRENGTH: 'minimum',
    LOG_LEVEL: 'silent',
    AUDIT_CHAIN_KEY: auditChainKey.toString('base64'),
  });
  const logger = createLogger('silent');
  const services = await createServices(config, { db, logger }, { publicUrl: () => 'http://loadtest' });
  const { identity } = services;
  const app = createApp(services, {
    logger,
    turn: undefined,
    demo: undefined,
    registry: new Registry(),
    checks: {},
  });
  const { accessToken } = await identity.sessions.create(
    { id: operator.userId, role: 'operator' },
    { ip: '127.0.0.1', userAgent: 'loadtest' },
  );
  return {
    book: async (body: unknown) => {
      const json = JSON.stringify(body);
      // A real client sends Content-Length (the socket tier passes it on); a Request built here has none.
      const headers = {
        authorization: `Bearer ${accessToken}`,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(json)),
      };
      const res = await app.request(
        '/api/appointments',
        { method: 'POST', headers, body: json },
        { remoteAddress: '127.0.0.1' },
      );
      const answer = (await res.json()) as { code?: string };
      return { status: res.status, code: answer.code };
    },
  };
}
