import type { Db } from '../../db/client.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Policy } from '../policy/policy.ts';
import type { Actor } from '../policy/types.ts';
import { doctorResource } from './appointment-facts.ts';
import type { BookingService } from './booking-service.ts';
import type { CalendarFeedService } from './calendar-feeds.ts';
import { doctorCalendarExport } from './doctor-calendar.ts';

/**
 * A doctor's appointments and calendar (PHI: who sees whom, when), reached only through here: each
 * call loads the doctor, lets the policy decide (and audit), then reads. The secret feed URL is its
 * own credential, so its read is audited here too, naming the doctor, never the secret.
 */
export class DoctorCalendarAccess {
  constructor(
    private readonly deps: {
      db: Db;
      policy: Policy;
      audit: AuditLog;
      booking: BookingService;
      feeds: CalendarFeedService;
      now: () => Date;
    },
  ) {}

  /** The doctor's schedule resource (404 for an unknown doctor), for the policy's decisions. */
  doctor(doctorId: string) {
    return doctorResource(this.deps.db, doctorId);
  }

  async appointments(actor: Actor, doctorId: string) {
    await this.deps.policy.require(actor, 'doctor.appointments.list', await this.doctor(doctorId));
    return this.deps.booking.listForDoctor(doctorId);
  }

  async export(actor: Actor, doctorId: string, appUrl: string): Promise<string> {
    await this.deps.policy.require(actor, 'doctor.calendar.export', await this.doctor(doctorId));
    return doctorCalendarExport(this.deps.db, doctorId, this.deps.now(), appUrl);
  }

  /** The export behind a secret feed URL; undefined for a malformed, unknown or revoked secret. */
  async exportBySecret(secret: string, appUrl: string): Promise<string | undefined> {
    const doctorId = await this.deps.feeds.resolve(secret);
    if (!doctorId) return undefined;
    await this.deps.audit.record({
      action: 'doctor.calendar_feed.read',
      outcome: 'allowed',
      resourceType: 'doctor',
      resourceId: doctorId,
      reason: 'secret_url',
    });
    return doctorCalendarExport(this.deps.db, doctorId, this.deps.now(), appUrl);
  }

  async issueFeed(actor: Actor, doctorId: string) {
    await this.deps.policy.require(actor, 'doctor.calendar_feed.manage', await this.doctor(doctorId), {
      reason: 'issue',
    });
    return this.deps.feeds.issue(doctorId);
  }

  async feedStatus(actor: Actor, doctorId: string) {
    await this.deps.policy.require(actor, 'doctor.calendar_feed.manage', await this.doctor(doctorId), {
      reason: 'status',
    });
    return this.deps.feeds.status(doctorId);
  }

  async revokeFeed(actor: Actor, doctorId: string) {
    await this.deps.policy.require(actor, 'doctor.calendar_feed.manage', await this.doctor(doctorId), {
      reason: 'revoke',
    });
    await this.deps.feeds.revoke(doctorId);
  }
}
