import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { clinicSchedulingSettings, consultTypes, type ConsultKind } from '../../db/schema/index.ts';
import { ProblemError } from '../errors.ts';

export type SchedulingSettings = { requiresApproval: boolean; reminderOffsetsMinutes: number[] };
export const DEFAULT_SETTINGS: SchedulingSettings = { requiresApproval: false, reminderOffsetsMinutes: [1440, 60] };

/** Per-clinic scheduling settings and consult types. Callers have passed the policy. */
export class ClinicSchedulingService {
  constructor(private readonly db: Db) {}

  async settings(clinicId: string): Promise<SchedulingSettings> {
    const [row] = await this.db.select().from(clinicSchedulingSettings).where(eq(clinicSchedulingSettings.clinicId, clinicId));
    return row ? { requiresApproval: row.requiresApproval, reminderOffsetsMinutes: row.reminderOffsetsMinutes } : { ...DEFAULT_SETTINGS };
  }

  async updateSettings(clinicId: string, patch: Partial<SchedulingSettings>): Promise<SchedulingSettings> {
    const next = { ...(await this.settings(clinicId)), ...patch };
    if (patch.reminderOffsetsMinutes) next.reminderOffsetsMinutes = [...new Set(patch.reminderOffsetsMinutes)].sort((a, b) => b - a);
    await this.db
      .insert(clinicSchedulingSettings)
      .values({ clinicId, ...next })
      .onConflictDoUpdate({ target: clinicSchedulingSettings.clinicId, set: { ...next, updatedAt: new Date() } });
    return next;
  }

  async createConsultType(clinicId: string, input: { name: string; kind: ConsultKind; durationMinutes: number; priceMinor: number; currency: string }) {
    const [row] = await this.db.insert(consultTypes).values({ id: randomUUID(), clinicId, ...input }).returning();
    return row!;
  }

  listConsultTypes(clinicId: string) {
    return this.db.select().from(consultTypes).where(and(eq(consultTypes.clinicId, clinicId), eq(consultTypes.active, true)));
  }

  /** A consult type usable in one of `clinicIds` (the ones doctor and caller share), or a 422. */
  async consultTypeIn(clinicIds: readonly string[], id: string) {
    const [row] = await this.db.select().from(consultTypes).where(and(eq(consultTypes.id, id), eq(consultTypes.active, true)));
    if (!row || !clinicIds.includes(row.clinicId)) throw new ProblemError(422, 'invalid_consult_type', 'no such consult type for this doctor', [{ field: 'consultTypeId', message: 'no such consult type for this doctor' }]);
    return row;
  }

  async consultType(clinicId: string, id: string) {
    const [row] = await this.db.select().from(consultTypes).where(and(eq(consultTypes.id, id), eq(consultTypes.clinicId, clinicId), eq(consultTypes.active, true)));
    if (!row) throw new ProblemError(422, 'invalid_consult_type', 'no such consult type in this clinic', [{ field: 'consultTypeId', message: 'no such consult type in this clinic' }]);
    return row;
  }
}
