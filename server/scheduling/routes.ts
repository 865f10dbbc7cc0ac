import { Hono } from 'hono';
import type { ApiEnv } from '../api/middleware.ts';
import type { Identity } from '../identity/create-identity.ts';
import { appointmentRoutes } from './appointment-routes.ts';
import { calendarFeedRoutes, publicCalendarFeedRoutes } from './calendar-feed-routes.ts';
import { clinicSchedulingRoutes } from './clinic-settings-routes.ts';
import type { Scheduling } from './create-scheduling.ts';
import { dispatchRoutes } from './dispatch-routes.ts';
import { doctorRoutes } from './doctor-routes.ts';

/** Scheduling under /api: clinic settings, doctors' schedules and calendars, appointments, dispatch. */
export function schedulingRoutes(identity: Identity, scheduling: Scheduling, publicUrl: () => string) {
  return new Hono<ApiEnv>()
    .route('/scheduling/clinics', clinicSchedulingRoutes(identity, scheduling))
    .route('/doctors', doctorRoutes(identity, scheduling, publicUrl))
    .route('/appointments', appointmentRoutes(identity, scheduling))
    .route('/dispatch', dispatchRoutes(identity, scheduling))
    .route('/doctors', calendarFeedRoutes(identity, scheduling, publicUrl))
    .route('/calendar-feeds', publicCalendarFeedRoutes(identity, scheduling, publicUrl));
}
