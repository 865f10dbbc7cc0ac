import { eq } from 'drizzle-orm';
import type { Tx } from '../../db/client.ts';
import { appointments, consultationRooms } from '../../db/schema/index.ts';
import { announce } from './catalogue.ts';

/**
 * Room ends that are not the consultation's end: a node shutting down hands its rooms on (the
 * same join token reaches the room's next host), so the call goes on elsewhere.
 */
const NOT_AN_END: ReadonlySet<string> = new Set(['shutdown']);

/**
 * `consultation.ended` for an appointment's room, inside the transaction that records the room's
 * end. Rooms that belong to no appointment (tests, tools) announce nothing.
 */
export async function announceConsultationEnded(tx: Tx, roomId: string, reason: string): Promise<void> {
  if (NOT_AN_END.has(reason)) return;
  const [a] = await tx
    .select({
      id: appointments.id,
      clinicId: appointments.clinicId,
      patientId: appointments.patientId,
      doctorId: appointments.doctorId,
    })
    .from(consultationRooms)
    .innerJoin(appointments, eq(appointments.id, consultationRooms.appointmentId))
    .where(eq(consultationRooms.roomId, roomId));
  if (!a) return;
  await announce(tx, a.clinicId, 'consultation.ended', {
    appointmentId: a.id,
    patientId: a.patientId,
    doctorId: a.doctorId,
    reason,
  });
}
