import { eq, inArray } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { guardianships, users } from '../../db/schema/index.ts';
import type { Channel } from '../notifications/types.ts';

/** timeZone: the person's own zone from their profile, if they set one (messages show times in it). */
export type Contact = {
  userId: string;
  channel: Channel;
  recipient: string;
  displayName: string;
  timeZone: string | null;
};

/** How to reach a user: e-mail if they have one, else SMS; none for people with neither. */
export function contactOf(u: {
  id: string;
  email: string | null;
  phone: string | null;
  displayName: string;
  timeZone?: string | null;
}): Contact | undefined {
  const timeZone = u.timeZone ?? null;
  if (u.email)
    return { userId: u.id, channel: 'email', recipient: u.email, displayName: u.displayName, timeZone };
  if (u.phone)
    return { userId: u.id, channel: 'sms', recipient: u.phone, displayName: u.displayName, timeZone };
  return undefined;
}

const contactFields = {
  id: users.id,
  email: users.email,
  phone: users.phone,
  displayName: users.displayName,
  timeZone: users.timeZone,
};

export async function contactsOf(db: Db, userIds: readonly string[]): Promise<Contact[]> {
  if (!userIds.length) return [];
  const rows = await db
    .select(contactFields)
    .from(users)
    .where(inArray(users.id, [...userIds]));
  return rows.flatMap((u) => contactOf(u) ?? []);
}

/** The patient, or for a dependent without contact details, their guardians. */
export async function patientContacts(db: Db, patientId: string): Promise<Contact[]> {
  const own = await contactsOf(db, [patientId]);
  if (own.length) return own;
  const guardians = await db
    .select({ id: guardianships.guardianId })
    .from(guardianships)
    .where(eq(guardianships.dependentId, patientId));
  return contactsOf(
    db,
    guardians.map((g) => g.id),
  );
}
