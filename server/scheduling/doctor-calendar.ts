import { and, eq, gte } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { appointments, consultTypes } from '../../db/schema/index.ts';
import { calendar, type CalendarEvent } from './ical.ts';

const KIND_LABEL = { video: 'Video consult', chat: 'Chat consult', on_site: 'On-site consult' } as const;

/**
 * A doctor's appointments as an .ics feed. Calendar files end up in third-party calendar apps and
 * their sync servers, so events carry the consult type, time and appointment reference only: no
 * patient name, no reason, no questionnaire. The doctor opens CareCall for the rest.
 */
export async function doctorCalendar(
  db: Db,
  doctorId: string,
  opts: { since: Date; now: Date; appUrl: string },
): Promise<string> {
  const rows = await db
    .select({
      id: appointments.id,
      startsAt: appointments.startsAt,
      endsAt: appointments.endsAt,
      status: appointments.status,
      kind: appointments.kind,
      typeName: consultTypes.name,
      updatedAt: appointments.updatedAt,
    })
    .from(appointments)
    .innerJoin(consultTypes, eq(consultTypes.id, appointments.consultTypeId))
    .where(and(eq(appointments.doctorId, doctorId), gte(appointments.endsAt, opts.since)));
  const events: CalendarEvent[] = rows.map((r) => ({
    uid: `${r.id}@carecall`,
    start: r.startsAt,
    end: r.endsAt,
    summary: `${KIND_LABEL[r.kind]}: ${r.typeName}`,
    description: `Appointment ${r.id}. Details: ${opts.appUrl}`,
    status:
      r.status === 'cancelled' || r.status === 'no_show'
        ? 'CANCELLED'
        : r.status === 'requested'
          ? 'TENTATIVE'
          : 'CONFIRMED',
    // Seconds since the epoch of the last change: increases with every change, as SEQUENCE must.
    sequence: Math.floor(r.updatedAt.getTime() / 1000) - 1_700_000_000,
    updated: r.updatedAt,
  }));
  return calendar('CareCall appointments', events, opts.now);
}

/** How far back both exports reach: past appointments a calendar app may still show. */
const LOOKBACK_MS = 30 * 86_400_000;

/**
 * The export as both the authenticated download and the secret subscription URL serve it, so the
 * two cannot drift apart (in particular: neither carries patient data).
 */
export function doctorCalendarExport(db: Db, doctorId: string, now: Date, appUrl: string): Promise<string> {
  return doctorCalendar(db, doctorId, { since: new Date(now.getTime() - LOOKBACK_MS), now, appUrl });
}
