import type { ChatActor } from '../messaging/types.ts';
import type { Actor } from '../policy/types.ts';

/**
 * Who reaches files: an account (API access token, any conversation chat lets it into), or a
 * room participant holding a room file grant, which reaches its room's conversation only and is
 * decided as admitted while the admission it names is open (see RoomAdmissions), as absent after.
 */
export type FileActor =
  | { kind: 'account'; actor: Actor }
  | { kind: 'room'; who: ChatActor; conversationId: string; admissionId: string };

/** The id files record as uploader (a guest's is prefixed: guest ids and user ids never meet). */
export function fileActorId(a: FileActor): string {
  if (a.kind === 'account') return a.actor.userId;
  return a.who.kind === 'user' ? a.who.actor.userId : `guest:${a.who.guestId}`;
}
