import type { RoomFiles } from '../../signaling/files-port.ts';
import type { JoinClaims, RoomFileGrant } from '../../signaling/protocol/index.ts';
import type { RoomChatService } from '../messaging/room-chat.ts';
import { fileActorId } from './file-actor.ts';
import type { RoomAdmissions } from './room-admissions.ts';
import type { RoomFileGrants } from './room-file-grants.ts';

/** The room tier's file credentials: a grant for the join token holder's room conversation, as chat knows it. */
export class RoomFilesService implements RoomFiles {
  constructor(
    private readonly chat: RoomChatService,
    private readonly grants: RoomFileGrants,
    private readonly admissions: RoomAdmissions,
    /** A failed end leaves the admission open until its grants expire: worth a log line. */
    private readonly onEndFailed: (err: unknown) => void,
  ) {}

  async grant(claims: JoinClaims, admissionId: string): Promise<RoomFileGrant> {
    // The handler has checked the member is admitted; each use is decided and audited by the files.
    const { who, conversationId } = await this.chat.participant(claims, 'admitted');
    const speakerId = fileActorId({ kind: 'room', who, conversationId, admissionId });
    await this.admissions.open(admissionId, conversationId, speakerId);
    const { token, expiresAt } = await this.grants.mint(who, conversationId, admissionId);
    return { conversationId, token, expiresAt: expiresAt.toISOString() };
  }

  ended(admissionId: string): Promise<void> {
    return this.admissions.end(admissionId).catch(this.onEndFailed);
  }
}
