import { randomUUID } from 'node:crypto';
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { clinicSchedulingSettings, consultTypes, type ConsultKind } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';

export type SchedulingSettings = { requiresApproval: boolean; reminderOffsetsMinutes: number[] };
export type ConsultTypePatch = Partial<{
  name: string;
  durationMinutes: number;
  priceMinor: number;
  currency: string;
  roomCapacity: number;
  active: boolean;
}>;
export const DEFAULT_SETTINGS: SchedulingSettings = {
  requiresApproval: false,
  reminderOffsetsMinutes: [1440, 60],
};

/** Per-clinic scheduling settings and consult types. Callers have passed the policy. */
export class ClinicSchedulingService {
  constructor(private readonly db: Db) {}

  async settings(clinicId: string): Promise<SchedulingSettings> {
    const [row] = await this.db
      .select()
      .from(clinicSchedulingSettings)
      .where(eq(clinicSchedulingSettings.clinicId, clinicId));
    return row
      ? { requiresApproval: row.requiresApproval, reminderOffsetsMinutes: row.reminderOffsetsMinutes }
      : { ...DEFAULT_SETTINGS };
  }

  async updateSettings(clinicId: string, patch: Partial<SchedulingSettings>): Promise<SchedulingSettings> {
    const next = { ...(await this.settings(clinicId)), ...patch };
    if (patch.reminderOffsetsMinutes)
      next.reminderOffsetsMinutes = [...new Set(patch.reminderOffsetsMinutes)].sort((a, b) => b - a);
    await this.db
      .insert(clinicSchedulingSettings)
      .values({ clinicId, ...next })
      .onConflictDoUpdate({
        target: clinicSchedulingSettings.clinicId,
        set: { ...next, updatedAt: new Date() },
      });
    return next;
  }

  async createConsultType(
    clinicId: string,
    input: {
      name: string;
      kind: ConsultKind;
      durationMinutes: number;
      priceMinor: number;
      currency: string;
      /** Default DEFAULT_ROOM_CAPACITY (the column's default). */
      roomCapacity?: number | undefined;
    },
  ) {
    const [row] = await this.db
      .insert(consultTypes)
      .values({ id: randomUUID(), clinicId, ...input })
      .returning();
    return row!;
  }

  /** Active types only unless asked: inactive ones are not bookable, so patients never see them. */
  listConsultTypes(clinicId: string, opts: { includeInactive?: boolean } = {}) {
    const where = opts.includeInactive
      ? eq(consultTypes.clinicId, clinicId)
      : and(eq(consultTypes.clinicId, clinicId), eq(consultTypes.active, true));
    return this.db
      .select()
      .from(consultTypes)
      .where(where)
      .orderBy(asc(consultTypes.createdAt), asc(consultTypes.id));
  }

  /**
   * Edits or (de)activates a type of this clinic; 404 for an id of another clinic. Appointments
   * copied price, currency and duration when booked, so they keep what the patient agreed to.
   */
  async updateConsultType(clinicId: string, id: string, patch: ConsultTypePatch) {
    const set = Object.fromEntries(
      Object.entries(patch).filter(([, v]) => v !== undefined),
    ) as ConsultTypePatch;
    const [row] = await this.db
      .update(consultTypes)
      .set(set)
      .where(and(eq(consultTypes.id, id), eq(consultTypes.clinicId, clinicId)))
      .returning();
    if (!row) throw new ProblemError(404, PROBLEM.notFound, 'no such consult type in this clinic');
    return row;
  }

  /** A consult type usable in one of `clinicIds` (the ones doctor and caller share), or a 422. */
  async consultTypeIn(clinicIds: readonly string[], id: string) {
    const [row] = await this.db
      .select()
      .from(consultTypes)
      .where(and(eq(consultTypes.id, id), eq(consultTypes.active, true)));
    if (!row || !clinicIds.includes(row.clinicId))
      throw new ProblemError(422, PROBLEM.invalidConsultType, 'no such consult type for this doctor', [
        { field: 'consultTypeId', message: 'no such consult type for this doctor' },
      ]);
    return row;
  }

  /** includeInactive: for work begun while the type was active (an urgent consult already offered). */
  async consultType(clinicId: string, id: string, opts: { includeInactive?: boolean } = {}) {
    const active = opts.includeInactive ? undefined : eq(consultTypes.active, true);
    const [row] = await this.db
      .select()
      .from(consultTypes)
      .where(and(eq(consultTypes.id, id), eq(consultTypes.clinicId, clinicId), active));
    if (!row)
      throw new ProblemError(422, PROBLEM.invalidConsultType, 'no such consult type in this clinic', [
        { field: 'consultTypeId', message: 'no such consult type in this clinic' },
      ]);
    return row;
  }
}
