import type { JoinClaims, RevocationReason } from './protocol/index.ts';
import { SignalingError } from './signaling-error.ts';

/**
 * Whether a join token still stands for something (the guest's invitation, the appointment). A
 * token is valid until it expires; what it was minted for can end earlier. Implemented by the
 * consultation service, which owns those facts.
 */
export interface JoinGrantCheck {
  /**
   * Synchronous, for the upgrade decision (uWS must decide inside its upgrade handler): what this
   * node already knows was revoked.
   */
  revokedNow(claims: JoinClaims): RevocationReason | undefined;
  /** The authoritative answer (the database), before a participant knocks or enters. */
  check(claims: JoinClaims): Promise<RevocationReason | undefined>;
}

/** "This grant is over": one identity in a room (`sub`), or everyone in the room. */
export type Revocation = { room: string; sub?: string | undefined; reason: RevocationReason };

export const covers = (revocation: Revocation, claims: JoinClaims) =>
  claims.room === revocation.room && (revocation.sub === undefined || claims.sub === revocation.sub);

/** A join refused because its grant is over; the participant's socket is closed after the answer. */
export class GrantRevokedError extends SignalingError {
  constructor(readonly reason: RevocationReason) {
    super('access_revoked', `this join link no longer admits anyone (${reason.replaceAll('_', ' ')})`);
  }
}
