import { Hono } from 'hono';
import type { Registry } from 'prom-client';
import { problemBody } from '../api/errors.ts';
import { defaultMetricsAccess, type MetricsAccess } from './metrics-access.ts';
import { PROBLEM } from '../api/problem-codes.ts';

export type HealthDeps = {
  checks: Record<string, () => Promise<void>>;
  registry: Registry;
  /** Who may read /metrics (default: loopback only). */
  metricsAccess?: MetricsAccess | undefined;
};

/** Liveness, readiness (DB, bus, SFU workers) and Prometheus metrics. */
export function healthRoutes(deps: HealthDeps) {
  const mayReadMetrics = deps.metricsAccess ?? defaultMetricsAccess();
  return new Hono<{ Bindings: { remoteAddress?: string } | undefined }>()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const results = await Promise.all(
        Object.entries(deps.checks).map(async ([name, check]) => {
          try {
            await withTimeout(check(), 2000);
            return [name, 'ok'] as const;
          } catch {
            return [name, 'failing'] as const;
          }
        }),
      );
      const checks = Object.fromEntries(results);
      if (results.every(([, s]) => s === 'ok')) return c.json({ status: 'ready', checks });
      const failing = results.filter(([, s]) => s !== 'ok').map(([n]) => n);
      return c.body(
        JSON.stringify({ ...problemBody(503, PROBLEM.notReady, `failing: ${failing.join(', ')}`), checks }),
        503,
        { 'content-type': 'application/problem+json' },
      );
    })
    .get('/metrics', async (c) => {
      if (!mayReadMetrics(c.env?.remoteAddress, c.req.raw.headers)) {
        const body = problemBody(
          403,
          PROBLEM.metricsForbidden,
          'metrics are served to METRICS_ALLOW addresses or with the METRICS_TOKEN bearer token',
        );
        return c.body(JSON.stringify(body), 403, { 'content-type': 'application/problem+json' });
      }
      return c.body(await deps.registry.metrics(), 200, { 'content-type': deps.registry.contentType });
    });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}
