import type { Slot } from '@medplum/fhirtypes';
import type { Db } from '../../../db/client.ts';
import { ProblemError } from '../../api/errors.ts';
import { PROBLEM } from '../../api/problem-codes.ts';
import type { Actor } from '../../policy/types.ts';
import type { AvailabilityService } from '../../scheduling/availability.ts';
import { fhirNotFound } from '../operation-outcome.ts';
import { ref, type ResourceProvider, type SearchPage } from '../provider.ts';
import { decodeCursor, emptyRange, type ParsedSearch } from '../search-params.ts';
import type { DirectoryAccess } from './directory-access.ts';
import { clinicsOfDoctor } from './practitioners.ts';
import { consultTypeConcept, type ScheduleProvider } from './schedules.ts';

const DAY = 86_400_000;
/** How far one Slot search looks (slots are computed from working hours, not stored). */
export const MAX_SLOT_WINDOW_DAYS = 31;
const DEFAULT_SLOT_WINDOW_DAYS = 7;

// Slots are computed, so their id carries what names one: the doctor, the consult type and the
// start. FHIR ids allow 64 characters of [A-Za-z0-9-.]: exactly a 64-letter alphabet, so each
// UUID takes 22 characters in base64 with '-' and '.' for '+' and '/', the start (seconds) base 36.
const toId64 = (uuid: string) =>
  Buffer.from(uuid.replace(/-/g, ''), 'hex')
    .toString('base64')
    .replace(/=+$/, '')
    .replace(/\+/g, '-')
    .replace(/\//g, '.');
const fromId64 = (s: string) => {
  const hex = Buffer.from(s.replace(/-/g, '+').replace(/\./g, '/'), 'base64').toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

export type SlotKey = { doctorId: string; consultTypeId: string; start: Date };

export const slotId = (k: SlotKey) =>
  `${toId64(k.doctorId)}${toId64(k.consultTypeId)}${Math.floor(k.start.getTime() / 1000).toString(36)}`;

export function parseSlotId(id: string): SlotKey | undefined {
  if (!/^[A-Za-z0-9\-.]{45,64}$/.test(id)) return undefined;
  const seconds = parseInt(id.slice(44), 36);
  if (!/^[0-9a-z]+$/.test(id.slice(44)) || !Number.isSafeInteger(seconds)) return undefined;
  const key = {
    doctorId: fromId64(id.slice(0, 22)),
    consultTypeId: fromId64(id.slice(22, 44)),
    start: new Date(seconds * 1000),
  };
  // Only ids this server made: encoding the decoded key again must give the same id.
  return slotId(key) === id ? key : undefined;
}

const isCursor = (v: unknown): v is { at: number; type: string } =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { at?: unknown }).at === 'number' &&
  typeof (v as { type?: unknown }).type === 'string';

type FreeSlot = { start: Date; end: Date; type: { id: string; name: string } };

const toSlot = (doctorId: string, s: FreeSlot): Slot => ({
  resourceType: 'Slot',
  id: slotId({ doctorId, consultTypeId: s.type.id, start: s.start }),
  serviceType: [consultTypeConcept(s.type)],
  schedule: ref('Schedule', doctorId),
  status: 'free',
  start: s.start.toISOString(),
  end: s.end.toISOString(),
});

/**
 * Free slots of a doctor's Schedule, per bookable consult type, computed from the working hours
 * minus appointments exactly as the booking API's slot list is. Only free slots are listed.
 */
export class SlotProvider implements ResourceProvider {
  readonly type = 'Slot' as const;
  readonly documentation = `Free slots of one Schedule (required), within at most ${MAX_SLOT_WINDOW_DAYS} days (default: the next ${DEFAULT_SLOT_WINDOW_DAYS}).`;
  readonly params = [
    {
      name: 'schedule',
      type: 'reference' as const,
      target: ['Schedule'],
      documentation: "The doctor's Schedule (required).",
    },
    {
      name: 'service-type',
      type: 'token' as const,
      documentation: `Consult type id (system ${consultTypeConcept({ id: '', name: '' }).coding![0]!.system}).`,
    },
    { name: 'start', type: 'date' as const, documentation: 'Slot start, with prefixes eq, lt, le, gt, ge.' },
    {
      name: 'status',
      type: 'token' as const,
      documentation: 'Only free slots exist here: free matches, anything else matches none.',
    },
  ];
  readonly includes = [];

  constructor(
    private readonly db: Db,
    private readonly directory: DirectoryAccess,
    private readonly schedules: ScheduleProvider,
    private readonly availability: AvailabilityService,
    private readonly now: () => Date,
  ) {}

  async read(actor: Actor, id: string): Promise<Slot> {
    const key = parseSlotId(id);
    if (!key) throw fhirNotFound('Slot');
    const slots = await this.#free(actor, key.doctorId, [key.consultTypeId], {
      from: key.start,
      to: new Date(key.start.getTime() + 1000),
    });
    const slot = slots?.find((s) => s.start.getTime() === key.start.getTime());
    if (!slot) throw fhirNotFound('Slot');
    return toSlot(key.doctorId, slot);
  }

  async search(actor: Actor, s: ParsedSearch): Promise<SearchPage> {
    const schedule = s.refs.get('schedule');
    if (!schedule)
      throw new ProblemError(400, PROBLEM.invalidQuery, 'the search is invalid', [
        { field: 'schedule', message: 'a Slot search names its Schedule' },
      ]);
    const statuses = s.tokens.get('status');
    const range = s.dates.get('start');
    if ((statuses && !statuses.includes('free')) || emptyRange(range)) return { matches: [] };
    const now = this.now();
    const from = range?.from && range.from > now ? range.from : now;
    const to = range?.to ?? new Date(from.getTime() + DEFAULT_SLOT_WINDOW_DAYS * DAY);
    if (to.getTime() - from.getTime() > MAX_SLOT_WINDOW_DAYS * DAY)
      throw new ProblemError(400, PROBLEM.invalidQuery, 'the search is invalid', [
        { field: 'start', message: `slots are searched at most ${MAX_SLOT_WINDOW_DAYS} days at a time` },
      ]);
    const cursor = decodeCursor(s.cursor, isCursor);
    const free = (await this.#free(actor, schedule.id, s.tokens.get('service-type'), { from, to })) ?? [];
    const after = cursor
      ? free.filter(
          (x) =>
            x.start.getTime() > cursor.at || (x.start.getTime() === cursor.at && x.type.id > cursor.type),
        )
      : free;
    const ids = s.ids;
    const matching = ids ? after.filter((x) => ids.includes(toSlot(schedule.id, x).id!)) : after;
    const page = matching.slice(0, s.count);
    const last = page[page.length - 1];
    return {
      matches: page.map((x) => toSlot(schedule.id, x)),
      ...(matching.length > s.count && last
        ? { next: { at: last.start.getTime(), type: last.type.id } }
        : {}),
    };
  }

  /** Free slots starting in [from, to) of the types asked for (all bookable ones by default); undefined: not visible. */
  async #free(
    actor: Actor,
    doctorId: string,
    typeIds: readonly string[] | undefined,
    r: { from: Date; to: Date },
  ) {
    const clinics = this.directory.visibleClinics(actor, await clinicsOfDoctor(this.db, doctorId));
    if (!clinics.length) return undefined;
    const types = (await this.schedules.bookableTypes(clinics)).filter(
      (t) => !typeIds || typeIds.includes(t.id),
    );
    const day = (d: Date) => d.toISOString().slice(0, 10);
    // Local dates around the UTC range (zones are within +-14 h of UTC); the instants filter exactly.
    const fromDate = day(new Date(r.from.getTime() - DAY));
    const toDate = day(new Date(r.to.getTime() + DAY));
    const out: FreeSlot[] = [];
    for (const type of types) {
      let slots;
      try {
        ({ slots } = await this.availability.slots(doctorId, {
          fromDate,
          toDate,
          durationMinutes: type.durationMinutes,
          now: this.now(),
        }));
      } catch (err) {
        if (err instanceof ProblemError && err.code === PROBLEM.noSchedule) return [];
        throw err;
      }
      for (const s of slots) if (s.start >= r.from && s.start < r.to) out.push({ ...s, type });
    }
    return out.sort((a, b) => a.start.getTime() - b.start.getTime() || (a.type.id < b.type.id ? -1 : 1));
  }
}
