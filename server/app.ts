import { Hono } from 'hono';
import type { BlockList } from 'node:net';
import { errorCode } from '../db/connection-errors.ts';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import {
  DATABASE_RETRY_AFTER_SECONDS,
  ProblemError,
  databaseUnavailable,
  loggableError,
  problemBody,
  problemResponse,
  requestIdOf,
} from './api/errors.ts';
import { demoRoutes, type DemoRoom } from './demo/routes.ts';
import { healthRoutes, type HealthDeps } from './ops/health-routes.ts';
import { staticRoutes } from './api/static-routes.ts';
import type { OutboxNotificationProvider } from './notifications/outbox-provider.ts';
import { auditRoutes } from './audit/routes.ts';
import { devOutboxRoutes } from './demo/dev-outbox-routes.ts';
import { assignRequestId, requestContext, type ApiEnv } from './api/middleware.ts';
import { identityRoutes } from './identity/routes.ts';
import { messagingRoutes } from './messaging/routes.ts';
import { liveChatRoutes } from './livechat/routes.ts';
import { patientRoutes, recordRoutes, verifyRoutes } from './records/routes.ts';
import { schedulingRoutes } from './scheduling/routes.ts';
import { iceServerRoutes } from './media/ice-server-routes.ts';
import type { TurnConfig } from './media/turn-credentials.ts';
import { securityHeaders, type SecurityHeaderOptions } from './api/security-headers.ts';
import { consultationRoutes, guestLinkRoutes } from './consultations/routes.ts';
import type { Services } from './services.ts';
import { PROBLEM } from './api/problem-codes.ts';
import { fileRoutes } from './files/routes.ts';
import { icd10Routes } from './records/icd10/routes.ts';
import { webhookRoutes } from './webhooks/routes.ts';
import { embedAdminRoutes, widgetApiRoutes } from './embed/routes.ts';
import { embedPageRoutes } from './embed/pages.ts';
import { fhirRoutes } from './fhir/routes.ts';

export const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** What the HTTP tier needs besides the services: how it is reached and what it reports. */
export type AppOptions = HealthDeps & {
  logger: Logger;
  demo: DemoRoom | undefined;
  /** Demo mode only: exposes the dev outbox so demo users can read their sign-in codes. */
  devOutbox?: OutboxNotificationProvider | undefined;
  turn: TurnConfig | undefined;
  /** Proxies whose X-Forwarded-For names the client (TRUSTED_PROXIES). */
  trustedProxies?: BlockList | undefined;
  /** HSTS and which pages may be framed (nobody by default). */
  securityHeaders?: SecurityHeaderOptions;
};

/** The JSON API under /api: every request gets a request context (id, IP) for audit. */
function createApi(services: Services, logger: Logger, trustedProxies?: BlockList) {
  const { identity, scheduling, consultations, records, clinicalRecords, messaging, livechat, publicUrl } =
    services;
  return (
    new Hono<ApiEnv>()
      .use(requestContext(logger, trustedProxies))
      .route('/', identityRoutes(identity))
      .route('/patients', patientRoutes(identity, records, clinicalRecords))
      // Public (no sign-in), so mounted before the authenticated /records routes.
      .route('/records/verify', verifyRoutes(clinicalRecords))
      .route('/records', recordRoutes(identity, clinicalRecords))
      .route('/audit', auditRoutes(identity))
      .route('/', schedulingRoutes(identity, scheduling, publicUrl))
      .route('/appointments', consultationRoutes(identity, consultations))
      .route('/conversations', messagingRoutes(identity, messaging))
      .route('/webhooks', webhookRoutes(identity, services.webhooks))
      .route('/icd10', icd10Routes(identity, services.icd10))
      .route('/clinics', embedAdminRoutes(identity, services.embed))
      .route('/widget', widgetApiRoutes(services.embed))
      .route('/livechat', liveChatRoutes(identity, livechat))
  );
}

/** Mounts the routes over services built elsewhere (createServices); builds no service itself. */
export function createApp(services: Services, deps: AppOptions) {
  const consultations = services.consultations;
  const app = new Hono()
    .use(assignRequestId())
    .use(securityHeaders(deps.securityHeaders))
    // Before the body limit: uploads stream through, any size the clinic allows.
    .route('/api/files', fileRoutes(services.identity, services.files, deps.logger, deps.trustedProxies))
    .use(
      bodyLimit({
        maxSize: MAX_BODY_BYTES,
        onError: () => {
          throw new ProblemError(
            413,
            PROBLEM.payloadTooLarge,
            `request bodies are limited to ${MAX_BODY_BYTES} bytes`,
          );
        },
      }),
    )
    .route('/', healthRoutes(deps))
    .route('/', staticRoutes())
    .route('/embed', embedPageRoutes(services.embed))
    .route('/api', createApi(services, deps.logger, deps.trustedProxies))
    .route(
      '/fhir/R4',
      fhirRoutes(services.identity, services.fhir, {
        logger: deps.logger,
        publicUrl: services.publicUrl,
        trustedProxies: deps.trustedProxies,
      }),
    )
    .route('/api/ice-servers', iceServerRoutes(services.verifyJoinToken, deps.turn))
    .route('/', guestLinkRoutes(consultations));
  if (deps.devOutbox) app.route('/api/dev/outbox', devOutboxRoutes(deps.devOutbox));
  if (deps.demo) app.route('/', demoRoutes(deps.demo, services.demoConsultation));

  app.notFound((c) => problemResponse(c, new ProblemError(404, PROBLEM.notFound, 'no such resource')));
  app.onError((err, c) => {
    if (err instanceof ProblemError) return problemResponse(c, err);
    if (err instanceof HTTPException) {
      return c.body(
        JSON.stringify(problemBody(err.status, PROBLEM.httpError, err.message, [], requestIdOf(c))),
        err.status,
        {
          'content-type': 'application/problem+json',
        },
      );
    }
    const unavailable = databaseUnavailable(err);
    if (unavailable) {
      deps.logger.warn(
        { requestId: requestIdOf(c), code: errorCode(err), route: c.req.routePath },
        'database unavailable',
      );
      c.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
      return problemResponse(c, unavailable);
    }
    deps.logger.error(
      { requestId: requestIdOf(c), err: loggableError(err), route: c.req.routePath },
      'unhandled API error',
    );
    return problemResponse(c, new ProblemError(500, PROBLEM.internal, 'internal error'));
  });
  return app;
}

export type App = ReturnType<typeof createApp>;
