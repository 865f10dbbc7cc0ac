import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import { ProblemError, problemBody, problemResponse } from './errors.ts';
import type { JoinTokenIssuer } from './join-tokens.ts';
import { demoRoutes, type DemoRoom } from './routes/demo.ts';
import { healthRoutes, type HealthDeps } from './routes/health.ts';
import { staticRoutes } from './routes/static.ts';

export const MAX_BODY_BYTES = 10 * 1024 * 1024;

export type AppDeps = HealthDeps & {
  logger: Logger;
  issuer: JoinTokenIssuer;
  demo: DemoRoom | undefined;
};

export function createApp(deps: AppDeps) {
  const app = new Hono()
    .use(
      bodyLimit({
        maxSize: MAX_BODY_BYTES,
        onError: () => {
          throw new ProblemError(413, 'payload_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
        },
      }),
    )
    .route('/', healthRoutes(deps))
    .route('/', staticRoutes());
  if (deps.demo) app.route('/', demoRoutes(deps.demo, deps.issuer));

  app.notFound((c) => problemResponse(c, new ProblemError(404, 'not_found', 'no such resource')));
  app.onError((err, c) => {
    if (err instanceof ProblemError) return problemResponse(c, err);
    if (err instanceof HTTPException) {
      return c.body(JSON.stringify(problemBody(err.status, 'http_error', err.message)), err.status, {
        'content-type': 'application/problem+json',
      });
    }
    deps.logger.error({ err, path: c.req.path }, 'unhandled API error');
    return problemResponse(c, new ProblemError(500, 'internal', 'internal error'));
  });
  return app;
}

export type App = ReturnType<typeof createApp>;
