import { and, eq, gt } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { knownDevices } from '../../db/schema/index.ts';
import { constantTimeEqualHex, hmacHex, randomToken, sha256Hex } from './secrets.ts';

/** The cookie a browser keeps after a completed sign-in (HttpOnly, sent to the sign-in routes only). */
export const DEVICE_COOKIE = 'carecall_device';
export const DEVICE_COOKIE_PATH = '/api/auth';
const DEVICE_COOKIE_VALUE = /^([A-Za-z0-9_-]{32,64})\.([0-9a-f]{32})$/;

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
    /** Signs the cookie, so a made-up one is refused in memory, before it costs a query or a lane. */
    private readonly cookieKey: Buffer,
  ) {}

  cookieValue(deviceId: string): string {
    return `${deviceId}.${hmacHex(this.cookieKey, deviceId).slice(0, 32)}`;
  }

  /** The device id of a cookie this deployment signed, or undefined for anything else. */
  deviceIdFromCookie(value: string | undefined): string | undefined {
    const m = value ? DEVICE_COOKIE_VALUE.exec(value) : null;
    if (!m || !constantTimeEqualHex(m[2]!, hmacHex(this.cookieKey, m[1]!).slice(0, 32))) return undefined;
    return m[1];
  }

  async isKnown(identifierHash: string, deviceId: string | undefined): Promise<boolean> {
    if (!deviceId) return false;
    const since = new Date(Date.now() - this.ttlSeconds * 1000);
    const rows = await this.db
      .select({ at: knownDevices.lastSeenAt })
      .from(knownDevices)
      .where(
        and(
          eq(knownDevices.identifierHash, identifierHash),
          eq(knownDevices.deviceHash, sha256Hex(deviceId)),
          gt(knownDevices.lastSeenAt, since),
        ),
      );
    return rows.length > 0;
  }

  /** After a completed sign-in: the browser's id (a new one if it had none), remembered for the account. */
  async remember(identifierHash: string, deviceId: string | undefined): Promise<string> {
    const id = deviceId ?? randomToken();
    const now = new Date();
    await this.db
      .insert(knownDevices)
      .values({ identifierHash, deviceHash: sha256Hex(id), lastSeenAt: now })
      .onConflictDoUpdate({
        target: [knownDevices.identifierHash, knownDevices.deviceHash],
        set: { lastSeenAt: now },
      });
    return id;
  }

  /** A password change forgets every browser of the account (a thief's included). */
  async forgetAll(identifierHash: string): Promise<void> {
    await this.db.delete(knownDevices).where(eq(knownDevices.identifierHash, identifierHash));
  }
}
