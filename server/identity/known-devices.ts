import { and, eq, gt } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { knownDevices } from '../../db/schema/index.ts';
import { randomToken, sha256Hex } from './secrets.ts';

/** The cookie a browser keeps after a completed sign-in (HttpOnly, sent to the sign-in routes only). */
export const DEVICE_COOKIE = 'carecall_device';
export const DEVICE_COOKIE_PATH = '/api/auth';
const DEVICE_ID = /^[A-Za-z0-9_-]{32,64}$/;

/** A device id as the cookie carries it, or undefined for anything malformed. */
export function parseDeviceId(value: string | undefined): string | undefined {
  return value && DEVICE_ID.test(value) ? value : undefined;
}

/**
 * Browsers that completed both factors for an account recently. Being one buys a lane of its own to
 * the hashing threads and a failure count of its own: a flood of wrong passwords from elsewhere can
 * lock the account for everyone else but not for its owner's usual browser. It proves nothing by
 * itself (the password and the code are still required).
 */
export class KnownDevices {
  constructor(
    private readonly db: Db,
    private readonly ttlSeconds: number,
  ) {}

  async isKnown(identifierHash: string, deviceId: string | undefined): Promise<boolean> {
    if (!deviceId) return false;
    const since = new Date(Date.now() - this.ttlSeconds * 1000);
    const rows = await this.db
      .select({ at: knownDevices.lastSeenAt })
      .from(knownDevices)
      .where(and(eq(knownDevices.identifierHash, identifierHash), eq(knownDevices.deviceHash, sha256Hex(deviceId)), gt(knownDevices.lastSeenAt, since)));
    return rows.length > 0;
  }

  /** After a completed sign-in: the browser's id (a new one if it had none), remembered for the account. */
  async remember(identifierHash: string, deviceId: string | undefined): Promise<string> {
    const id = deviceId ?? randomToken();
    const now = new Date();
    await this.db
      .insert(knownDevices)
      .values({ identifierHash, deviceHash: sha256Hex(id), lastSeenAt: now })
      .onConflictDoUpdate({ target: [knownDevices.identifierHash, knownDevices.deviceHash], set: { lastSeenAt: now } });
    return id;
  }

  /** A password change forgets every browser of the account (a thief's included). */
  async forgetAll(identifierHash: string): Promise<void> {
    await this.db.delete(knownDevices).where(eq(knownDevices.identifierHash, identifierHash));
  }
}
