import { Hono } from 'hono';
import type { BlockList } from 'node:net';
import { errorCode } from '../db/connection-errors.ts';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import { DATABASE_RETRY_AFTER_SECONDS, ProblemError, databaseUnavailable, loggableError, problemBody, problemResponse, requestIdOf } from './errors.ts';
import { demoRoutes, type DemoRoom } from './routes/demo.ts';
import { healthRoutes, type HealthDeps } from './routes/health.ts';
import { staticRoutes } from './routes/static.ts';
import type { OutboxNotificationProvider } from './notifications/outbox-provider.ts';
import { auditRoutes } from './routes/audit.ts';
import { authRoutes } from './routes/auth.ts';
import { clinicRoutes } from './routes/clinics.ts';
import { devOutboxRoutes } from './routes/dev-outbox.ts';
import { invitationRoutes } from './routes/invitations.ts';
import { meRoutes } from './routes/me.ts';
import { assignRequestId, requestContext, type ApiEnv } from './routes/middleware.ts';
import { patientRoutes } from './routes/patients.ts';
import { iceServerRoutes } from './routes/ice-servers.ts';
import type { TurnConfig } from './turn-credentials.ts';
import { appointmentRoutes } from './routes/scheduling/appointments.ts';
import { clinicSchedulingRoutes } from './routes/scheduling/clinic-scheduling.ts';
import { dispatchRoutes } from './routes/scheduling/dispatch.ts';
import { doctorRoutes } from './routes/scheduling/doctors.ts';
import { calendarFeedRoutes, publicCalendarFeedRoutes } from './routes/scheduling/calendar-feeds.ts';
import { securityHeaders, type SecurityHeaderOptions } from './security-headers.ts';
import { consultationRoutes, guestLinkRoutes } from './routes/consultations.ts';
import type { Services } from './services.ts';

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
  const { identity, scheduling, consultations, publicUrl } = services;
  return new Hono<ApiEnv>()
    .use(requestContext(logger, trustedProxies))
    .route('/auth', authRoutes(identity))
    .route('/me', meRoutes(identity))
    .route('/clinics', clinicRoutes(identity))
    .route('/invitations', invitationRoutes(identity))
    .route('/patients', patientRoutes(identity))
    .route('/audit', auditRoutes(identity))
    .route('/scheduling/clinics', clinicSchedulingRoutes(identity, scheduling))
    .route('/doctors', doctorRoutes(identity, scheduling, publicUrl))
    .route('/appointments', appointmentRoutes(identity, scheduling))
    .route('/dispatch', dispatchRoutes(identity, scheduling))
    .route('/doctors', calendarFeedRoutes(identity, scheduling, publicUrl))
    .route('/calendar-feeds', publicCalendarFeedRoutes(identity, scheduling, publicUrl))
    .route('/appointments', consultationRoutes(identity, consultations));
}

/** Mounts the routes over services built elsewhere (createServices); builds no service itself. */
export function createApp(services: Services, deps: AppOptions) {
  const consultations = services.consultations;
  const app = new Hono()
    .use(assignRequestId())
    .use(securityHeaders(deps.securityHeaders))
    .use(
      bodyLimit({
        maxSize: MAX_BODY_BYTES,
        onError: () => {
          throw new ProblemError(413, 'payload_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
        },
      }),
    )
    .route('/', healthRoutes(deps))
    .route('/', staticRoutes())
    .route('/api', createApi(services, deps.logger, deps.trustedProxies))
    .route('/api/ice-servers', iceServerRoutes(services.verifyJoinToken, deps.turn))
    .route('/', guestLinkRoutes(consultations));
  if (deps.devOutbox) app.route('/api/dev/outbox', devOutboxRoutes(deps.devOutbox));
  if (deps.demo) app.route('/', demoRoutes(deps.demo, services.issuer));

  app.notFound((c) => problemResponse(c, new ProblemError(404, 'not_found', 'no such resource')));
  app.onError((err, c) => {
    if (err instanceof ProblemError) return problemResponse(c, err);
    if (err instanceof HTTPException) {
      return c.body(JSON.stringify(problemBody(err.status, 'http_error', err.message, [], requestIdOf(c))), err.status, {
        'content-type': 'application/problem+json',
      });
    }
    const unavailable = databaseUnavailable(err);
    if (unavailable) {
      deps.logger.warn({ requestId: requestIdOf(c), code: errorCode(err), route: c.req.routePath }, 'database unavailable');
      c.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
      return problemResponse(c, unavailable);
    }
    deps.logger.error({ requestId: requestIdOf(c), err: loggableError(err), route: c.req.routePath }, 'unhandled API error');
    return problemResponse(c, new ProblemError(500, 'internal', 'internal error'));
  });
  return app;
}

export type App = ReturnType<typeof createApp>;
