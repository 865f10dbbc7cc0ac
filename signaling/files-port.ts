import type { JoinClaims, RoomFileGrant } from './protocol/index.ts';

/**
 * How the room tier hands out file credentials without knowing the server: the room
 * conversation's grant for the holder of a join token who is admitted right now (a refusal is
 * thrown as a SignalingError with a code).
 */
export interface RoomFiles {
  grant(claims: JoinClaims): Promise<RoomFileGrant>;
}
