import { and, eq, gt, inArray, isNull, lte } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { clinicMembers, doctorLicences, licenceNotices, users } from '../../db/schema/index.ts';
import type { NotificationProvider } from '../notifications/types.ts';
import { contactsOf } from './contacts.ts';

export const NOTICE_THRESHOLDS_DAYS = [180, 90, 30] as const;
const DAY_MS = 86_400_000;

/**
 * Licence expiry notices at 180, 90 and 30 days, to the doctor and the admins of the doctor's
 * clinics. One notice per licence per threshold: the licence_notices row is the record (primary key
 * = licence + threshold), written before sending and stamped after, so a crash in between is retried
 * and the provider's idempotency key keeps the retry from arriving twice. A licence first seen
 * with, say, 20 days left gets only the 30-day notice; the passed 180/90 thresholds are recorded as
 * superseded (sent_at set, nothing sent) so they never go out late.
 */
export class LicenceNotices {
  constructor(
    private readonly db: Db,
    private readonly provider: NotificationProvider,
    private readonly now: () => Date,
  ) {}

  async runOnce(): Promise<{ sent: number }> {
    const now = this.now();
    const expiring = await this.db
      .select({ id: doctorLicences.id, expiresAt: doctorLicences.expiresAt })
      .from(doctorLicences)
      .where(
        and(
          gt(doctorLicences.expiresAt, now),
          lte(doctorLicences.expiresAt, new Date(now.getTime() + NOTICE_THRESHOLDS_DAYS[0] * DAY_MS)),
        ),
      );
    for (const l of expiring) {
      const crossed = NOTICE_THRESHOLDS_DAYS.filter(
        (t) => l.expiresAt.getTime() - now.getTime() <= t * DAY_MS,
      );
      const due = Math.min(...crossed);
      await this.db
        .insert(licenceNotices)
        .values(crossed.map((t) => ({ licenceId: l.id, thresholdDays: t, sentAt: t === due ? null : now })))
        .onConflictDoNothing();
    }
    const pending = await this.db
      .select({
        licenceId: licenceNotices.licenceId,
        thresholdDays: licenceNotices.thresholdDays,
        doctorId: doctorLicences.doctorId,
        jurisdiction: doctorLicences.jurisdiction,
        number: doctorLicences.number,
        expiresAt: doctorLicences.expiresAt,
      })
      .from(licenceNotices)
      .innerJoin(doctorLicences, eq(doctorLicences.id, licenceNotices.licenceId))
      .where(isNull(licenceNotices.sentAt));
    let sent = 0;
    for (const n of pending) {
      const [doctor] = await this.db
        .select({ displayName: users.displayName })
        .from(users)
        .where(eq(users.id, n.doctorId));
      for (const to of await contactsOf(this.db, [n.doctorId, ...(await this.clinicAdminsOf(n.doctorId))])) {
        await this.provider.send({
          channel: to.channel,
          recipient: to.recipient,
          template: 'licence_expiry',
          ...(to.channel === 'email'
            ? { subject: `Licence expires in ${n.thresholdDays} days or less` }
            : {}),
          body: `The ${n.jurisdiction} licence ${n.number} of ${doctor?.displayName ?? 'a doctor'} expires on ${n.expiresAt.toISOString().slice(0, 10)}. Patients located in ${n.jurisdiction} cannot be booked with this doctor after that date without a renewed licence.`,
          idempotencyKey: `licence_expiry:${n.licenceId}:${n.thresholdDays}:${to.userId}`,
        });
        sent++;
      }
      await this.db
        .update(licenceNotices)
        .set({ sentAt: now })
        .where(
          and(eq(licenceNotices.licenceId, n.licenceId), eq(licenceNotices.thresholdDays, n.thresholdDays)),
        );
    }
    return { sent };
  }

  private async clinicAdminsOf(doctorId: string): Promise<string[]> {
    const clinics = await this.db
      .select({ clinicId: clinicMembers.clinicId })
      .from(clinicMembers)
      .where(eq(clinicMembers.userId, doctorId));
    if (!clinics.length) return [];
    const admins = await this.db
      .select({ id: users.id })
      .from(clinicMembers)
      .innerJoin(users, eq(users.id, clinicMembers.userId))
      .where(
        and(
          inArray(
            clinicMembers.clinicId,
            clinics.map((c) => c.clinicId),
          ),
          eq(users.role, 'clinic_admin'),
        ),
      );
    return [...new Set(admins.map((a) => a.id))];
  }
}
