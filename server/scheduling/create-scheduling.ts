import type { Logger } from 'pino';
import type { Db } from '../../db/client.ts';
import type { AppointmentStatus } from '../../db/schema/index.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SchedulingConfig } from '../config.ts';
import type { NotificationProvider } from '../notifications/types.ts';
import type { Policy } from '../policy/policy.ts';
import { AvailabilityService } from './availability.ts';
import { BookingService } from './booking-service.ts';
import { CalendarFeedService } from './calendar-feeds.ts';
import { DoctorCalendarAccess } from './doctor-calendar-access.ts';
import { DoctorSchedules } from './doctor-schedules.ts';
import { ClinicSchedulingAdministration } from './clinic-scheduling-admin.ts';
import { ClinicSchedulingService } from './clinic-settings.ts';
import { DispatchService } from './dispatch-service.ts';
import { LicenceNotices } from './licence-notices.ts';
import { LicenceService } from './licences.ts';
import { ReminderOutbox } from './reminder-outbox.ts';
import { SchedulingWorker } from './scheduling-worker.ts';

export type Scheduling = ReturnType<typeof createScheduling>;

/** Wires the scheduling services; the one place their implementations and clock are chosen. */
export function createScheduling(opts: {
  db: Db;
  policy: Policy;
  audit: AuditLog;
  provider: NotificationProvider;
  config: SchedulingConfig;
  now?: () => Date;
  observeBooking?: (phase: string, ms: number) => void;
  /** After an appointment's status change committed (join grants: a cancelled room closes). */
  onStatusChange?: (appointmentId: string, to: AppointmentStatus) => Promise<void>;
}) {
  const { db, policy, audit, provider, config } = opts;
  const now = opts.now ?? (() => new Date());
  const clinics = new ClinicSchedulingService(db);
  const availability = new AvailabilityService(db);
  const licences = new LicenceService(db);
  const booking = new BookingService({
    db,
    policy,
    audit,
    now,
    observe: opts.observeBooking,
    onStatusChange: opts.onStatusChange,
  });
  const dispatch = new DispatchService({ db, policy, clinics, licences, provider, now });
  const reminders = new ReminderOutbox(db, provider, { leaseMs: config.reminderLeaseMs, batchSize: 50, now });
  const licenceNotices = new LicenceNotices(db, provider, now);
  const calendarFeeds = new CalendarFeedService(db, now);
  const doctorCalendars = new DoctorCalendarAccess({ db, policy, audit, booking, feeds: calendarFeeds, now });
  return {
    config,
    now,
    clinics,
    /** Clinic settings and consult types, decided per caller (the routes' way in). */
    clinicAdministration: new ClinicSchedulingAdministration({ policy, clinics }),
    availability,
    licences,
    booking,
    dispatch,
    reminders,
    licenceNotices,
    calendarFeeds,
    doctorCalendars,
    /** Doctors' availability, slots and licences, decided per caller (the routes' way in). */
    doctorSchedules: new DoctorSchedules({
      policy,
      availability,
      clinics,
      licences,
      calendars: doctorCalendars,
      now,
    }),
    /** Not started here: node.ts starts it after the database and stops it before. */
    createWorker: (logger: Logger) =>
      new SchedulingWorker(
        [
          { name: 'reminders', everyMs: 0, run: () => reminders.runOnce() },
          { name: 'dispatch', everyMs: 0, run: () => dispatch.tick() },
          {
            name: 'licence-notices',
            everyMs: config.licenceCheckIntervalMs,
            run: () => licenceNotices.runOnce(),
          },
        ],
        { tickMs: config.workerTickMs, logger },
      ),
  };
}
