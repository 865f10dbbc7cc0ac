import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { roomFileAdmissions } from '../../db/schema/index.ts';

/**
 * Room admissions as room file grants rely on them (see roomFileAdmissions): opened by the room
 * tier with a participant's first grant, ended when its room session ends, and asked about on
 * every use of a grant or of a link asked for with one.
 */
export class RoomAdmissions {
  constructor(private readonly db: Db) {}

  async open(id: string, conversationId: string, speakerId: string): Promise<void> {
    await this.db.insert(roomFileAdmissions).values({ id, conversationId, speakerId }).onConflictDoNothing();
  }

  async end(id: string): Promise<void> {
    await this.db
      .update(roomFileAdmissions)
      .set({ endedAt: new Date() })
      .where(and(eq(roomFileAdmissions.id, id), isNull(roomFileAdmissions.endedAt)));
  }

  /** Open, for this conversation and this participant: anything else counts as ended. */
  async isOpen(id: string, conversationId: string, speakerId: string): Promise<boolean> {
    const [row] = await this.db
      .select({ endedAt: roomFileAdmissions.endedAt })
      .from(roomFileAdmissions)
      .where(
        and(
          eq(roomFileAdmissions.id, id),
          eq(roomFileAdmissions.conversationId, conversationId),
          eq(roomFileAdmissions.speakerId, speakerId),
        ),
      );
    return row !== undefined && row.endedAt === null;
  }
}
