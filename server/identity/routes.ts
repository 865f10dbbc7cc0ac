import { Hono } from 'hono';
import type { ApiEnv } from '../api/middleware.ts';
import { authRoutes } from './auth-routes.ts';
import { clinicRoutes } from './clinic-routes.ts';
import type { Identity } from './create-identity.ts';
import { invitationRoutes } from './invitation-routes.ts';
import { meRoutes } from './me-routes.ts';

/** Identity under /api: sign-in, one's own account, clinics and their staff, invitations. */
export function identityRoutes(identity: Identity) {
  return new Hono<ApiEnv>()
    .route('/auth', authRoutes(identity))
    .route('/me', meRoutes(identity))
    .route('/clinics', clinicRoutes(identity))
    .route('/invitations', invitationRoutes(identity));
}
