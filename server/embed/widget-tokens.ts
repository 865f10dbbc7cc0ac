import { randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';

/** A widget session lives long enough to load the page and join, not to be kept. */
export const WIDGET_TOKEN_TTL_SECONDS = 600;
const ISSUER = 'carecall';
const AUDIENCE = 'carecall-widget';

const claimsSchema = z.object({
  sub: z.string().min(1),
  cid: z.string().min(1),
  kid: z.string().min(1),
  apt: z.string().min(1).optional(),
  jti: z.string().min(1),
  exp: z.number(),
});

/** Who the widget is for: one patient of one clinic, optionally one appointment; `keyId` minted it. */
export type WidgetClaims = {
  patientId: string;
  clinicId: string;
  keyId: string;
  appointmentId?: string | undefined;
  sessionId: string;
  expiresAt: Date;
};

/**
 * HS256 under a key derived from the node's signing key: only CareCall mints and reads these (the
 * host page carries them, but never learns anything it could use elsewhere). Ids only, no PHI.
 */
export class WidgetTokens {
  constructor(
    private readonly key: Uint8Array,
    private readonly now: () => Date = () => new Date(),
    private readonly ttlSeconds = WIDGET_TOKEN_TTL_SECONDS,
  ) {}

  async mint(
    c: Omit<WidgetClaims, 'sessionId' | 'expiresAt'>,
  ): Promise<{ token: string; claims: WidgetClaims }> {
    const iat = Math.floor(this.now().getTime() / 1000);
    const sessionId = randomUUID();
    const token = await new SignJWT({
      cid: c.clinicId,
      kid: c.keyId,
      ...(c.appointmentId ? { apt: c.appointmentId } : {}),
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(c.patientId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setJti(sessionId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.ttlSeconds)
      .sign(this.key);
    return { token, claims: { ...c, sessionId, expiresAt: new Date((iat + this.ttlSeconds) * 1000) } };
  }

  /** 401 widget_token_expired or widget_token_invalid; never says more about a bad token. */
  async verify(token: unknown): Promise<WidgetClaims> {
    if (typeof token !== 'string' || token.length > 4096)
      throw new ProblemError(401, PROBLEM.widgetTokenInvalid, 'a widget session token is required');
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
        currentDate: this.now(),
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired)
        throw new ProblemError(401, PROBLEM.widgetTokenExpired, 'the widget session has expired');
      throw new ProblemError(401, PROBLEM.widgetTokenInvalid, 'the widget session token is not valid');
    }
    const p = claimsSchema.safeParse(payload);
    if (!p.success)
      throw new ProblemError(401, PROBLEM.widgetTokenInvalid, 'the widget session token is not valid');
    return {
      patientId: p.data.sub,
      clinicId: p.data.cid,
      keyId: p.data.kid,
      appointmentId: p.data.apt,
      sessionId: p.data.jti,
      expiresAt: new Date(p.data.exp * 1000),
    };
  }
}
