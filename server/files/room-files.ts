import type { RoomFiles } from '../../signaling/files-port.ts';
import type { JoinClaims, RoomFileGrant } from '../../signaling/protocol/index.ts';
import type { RoomChatService } from '../messaging/room-chat.ts';
import type { RoomFileGrants } from './room-file-grants.ts';

/** The room tier's file credentials: a grant for the join token holder's room conversation, as chat knows it. */
export class RoomFilesService implements RoomFiles {
  constructor(
    private readonly chat: RoomChatService,
    private readonly grants: RoomFileGrants,
  ) {}

  async grant(claims: JoinClaims): Promise<RoomFileGrant> {
    // The handler has checked the member is admitted; each use is decided and audited by the files.
    const { who, conversationId } = await this.chat.participant(claims, 'admitted');
    const { token, expiresAt } = await this.grants.mint(who, conversationId);
    return { conversationId, token, expiresAt: expiresAt.toISOString() };
  }
}
