import { Hono } from 'hono';
import type { BlockList } from 'node:net';
import { errorCode } from '../db/connection-errors.ts';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import { DATABASE_RETRY_AFTER_SECONDS, ProblemError, databaseUnavailable, loggableError, problemBody, problemResponse, requestIdOf } from './errors.ts';
import type { JoinTokenIssuer } from './join-tokens.ts';
import { demoRoutes, type DemoRoom } from './routes/demo.ts';
import { healthRoutes, type HealthDeps } from './routes/health.ts';
import { staticRoutes } from './routes/static.ts';
import type { Identity } from './identity/create-identity.ts';
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
import type { JoinTokenVerifier } from '../signaling/verify-join-token.ts';
import { appointmentRoutes } from './routes/scheduling/appointments.ts';
import { clinicSchedulingRoutes } from './routes/scheduling/clinic-scheduling.ts';
import { dispatchRoutes } from './routes/scheduling/dispatch.ts';
import { doctorRoutes } from './routes/scheduling/doctors.ts';
import { calendarFeedRoutes, publicCalendarFeedRoutes } from './routes/scheduling/calendar-feeds.ts';
import type { Scheduling } from './scheduling/create-scheduling.ts';
import { ConsultationService } from './consultations/consultation-service.ts';
import { securityHeaders, type SecurityHeaderOptions } from './security-headers.ts';
import type { JoinGrants } from './consultations/join-grants.ts';
import { consultationRoutes, guestLinkRoutes } from './routes/consultations.ts';

export const MAX_BODY_BYTES = 10 * 1024 * 1024;

export type AppDeps = HealthDeps & {
  logger: Logger;
  issuer: JoinTokenIssuer;
  demo: DemoRoom | undefined;
  identity: Identity;
  scheduling: Scheduling;
  /** Base URL the .ics feed links back to. */
  appUrl?: () => string;
  /** The clock for appointment windows (tests set it). */
  now?: () => Date;
  /** Demo mode only: exposes the dev outbox so demo users can read their sign-in codes. */
  devOutbox?: OutboxNotificationProvider | undefined;
  verifyJoinToken: JoinTokenVerifier;
  turn: TurnConfig | undefined;
  /** Proxies whose X-Forwarded-For names the client (TRUSTED_PROXIES). */
  trustedProxies?: BlockList | undefined;
  /** Told when a guest is revoked (closes the guest's sockets); absent in API-only tests. */
  joinGrants?: JoinGrants | undefined;
  /** HSTS and which pages may be framed (nobody by default). */
  securityHeaders?: SecurityHeaderOptions;
};

/** The JSON API under /api: every request gets a request context (id, IP) for audit. */
export function createApi(identity: Identity, scheduling: Scheduling, logger: Logger, appUrl: () => string = () => '', consultations?: ConsultationService, trustedProxies?: BlockList) {
  const api = new Hono<ApiEnv>()
    .use(requestContext(logger, trustedProxies))
    .route('/auth', authRoutes(identity))
    .route('/me', meRoutes(identity))
    .route('/clinics', clinicRoutes(identity))
    .route('/invitations', invitationRoutes(identity))
    .route('/patients', patientRoutes(identity))
    .route('/audit', auditRoutes(identity))
    .route('/scheduling/clinics', clinicSchedulingRoutes(identity, scheduling))
    .route('/doctors', doctorRoutes(identity, scheduling, appUrl))
    .route('/appointments', appointmentRoutes(identity, scheduling))
    .route('/dispatch', dispatchRoutes(identity, scheduling))
    .route('/doctors', calendarFeedRoutes(identity, scheduling, appUrl))
    .route('/calendar-feeds', publicCalendarFeedRoutes(identity, scheduling, appUrl));
  if (consultations) api.route('/appointments', consultationRoutes(identity, consultations));
  return api;
}

export type Api = ReturnType<typeof createApi>;

export function createApp(deps: AppDeps) {
  const consultations = new ConsultationService({
    db: deps.identity.policy.db,
    policy: deps.identity.policy,
    issuer: deps.issuer,
    now: deps.now ?? (() => new Date()),
    publicUrl: deps.appUrl ?? (() => ''),
    grants: deps.joinGrants,
  });
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
    .route('/api', createApi(deps.identity, deps.scheduling, deps.logger, deps.appUrl, consultations, deps.trustedProxies))
    .route('/api/ice-servers', iceServerRoutes(deps.verifyJoinToken, deps.turn))
    .route('/', guestLinkRoutes(consultations));
  if (deps.devOutbox) app.route('/api/dev/outbox', devOutboxRoutes(deps.devOutbox));
  if (deps.demo) app.route('/', demoRoutes(deps.demo, deps.issuer));

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
