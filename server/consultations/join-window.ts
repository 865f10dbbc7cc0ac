/** The room opens a little before the appointment and stays open a while after its end. */
export const JOIN_OPENS_BEFORE_MS = 15 * 60_000;
export const JOIN_CLOSES_AFTER_MS = 30 * 60_000;
export const JOINABLE_STATUSES: ReadonlySet<string> = new Set(['confirmed', 'checked_in', 'in_call']);

/** A guest's identity in the room: its invitation's id. */
export const guestSub = (guestId: string) => `guest-${guestId}`;
export const guestIdOf = (sub: string) => (sub.startsWith('guest-') ? sub.slice('guest-'.length) : undefined);
