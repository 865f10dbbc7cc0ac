import type { JoinClaims, RoomFileGrant } from './protocol/index.ts';

/**
 * How the room tier hands out file credentials without knowing the server: the room
 * conversation's grant for the holder of a join token who is admitted right now (a refusal is
 * thrown as a SignalingError with a code).
 */
export interface RoomFiles {
  /** `admissionId` names this admission of the member: its grants end when ended() is called with it. */
  grant(claims: JoinClaims, admissionId: string): Promise<RoomFileGrant>;
  /** The member's room session ended: grants (and links) of that admission reach nothing any more. Never rejects. */
  ended(admissionId: string): Promise<void>;
}
