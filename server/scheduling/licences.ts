import { randomUUID } from 'node:crypto';
import { and, eq, gt, inArray, lte } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { doctorLicences } from '../../db/schema/index.ts';

export type LicenceInput = { jurisdiction: string; number: string; validFrom: Date; expiresAt: Date };

/** Doctors' licences: where they may treat patients, and until when. */
export class LicenceService {
  constructor(private readonly db: Db) {}

  async add(doctorId: string, input: LicenceInput, createdBy: string) {
    const [row] = await this.db
      .insert(doctorLicences)
      .values({ id: randomUUID(), doctorId, ...input, createdBy })
      .returning();
    return row!;
  }

  list(doctorId: string) {
    return this.db.select().from(doctorLicences).where(eq(doctorLicences.doctorId, doctorId));
  }

  /**
   * A licence valid for the whole of [start, end) in the patient's jurisdiction, or in its country
   * when the licence is national (a 'DE' licence covers a patient in 'DE-BE'; 'US-NY' covers only New York).
   */
  async covers(doctorId: string, jurisdiction: string, start: Date, end: Date): Promise<boolean> {
    const [row] = await this.db
      .select({ id: doctorLicences.id })
      .from(doctorLicences)
      .where(
        and(
          eq(doctorLicences.doctorId, doctorId),
          inArray(doctorLicences.jurisdiction, [...new Set([jurisdiction, jurisdiction.split('-')[0]!])]),
          lte(doctorLicences.validFrom, start),
          gt(doctorLicences.expiresAt, end),
        ),
      )
      .limit(1);
    return !!row;
  }
}
