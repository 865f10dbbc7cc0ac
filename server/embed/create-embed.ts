import type { Db } from '../../db/client.ts';
import type { ConsultationService } from '../consultations/consultation-service.ts';
import type { Identity } from '../identity/create-identity.ts';
import { ApiKeys } from './api-keys.ts';
import { KeyRateLimiter } from './rate-limit.ts';
import { WidgetAdministration } from './widget-admin.ts';
import { WidgetSessions } from './widget-sessions.ts';
import { WidgetSettings } from './widget-settings.ts';
import { WidgetTokens } from './widget-tokens.ts';

/** Widget sessions each clinic key may mint: a burst of 30, then 120 a minute. */
const SESSIONS_PER_MINUTE = 120;
const SESSION_BURST = 30;

export type Embed = ReturnType<typeof createEmbed>;

/** The embeddable widget: clinic API keys, widget settings, sessions and their exchange. */
export function createEmbed(opts: {
  db: Db;
  identity: Identity;
  consultations: ConsultationService;
  now: () => Date;
  publicUrl: () => string;
  rateLimit?: { perMinute: number; burst: number };
}) {
  const { db, identity } = opts;
  const apiKeys = new ApiKeys(db);
  const settings = new WidgetSettings(db);
  const tokens = new WidgetTokens(identity.keys.derive('widget-session'), opts.now);
  const sessions = new WidgetSessions({
    db,
    audit: identity.audit,
    apiKeys,
    tokens,
    consultations: opts.consultations,
    now: opts.now,
    linkKey: identity.keys.derive('widget-external-patient-id'),
  });
  return {
    apiKeys,
    settings,
    tokens,
    sessions,
    publicUrl: opts.publicUrl,
    rateLimiter: new KeyRateLimiter(
      opts.rateLimit?.perMinute ?? SESSIONS_PER_MINUTE,
      opts.rateLimit?.burst ?? SESSION_BURST,
    ),
    administration: new WidgetAdministration({
      policy: identity.policy,
      audit: identity.audit,
      apiKeys,
      settings,
    }),
  };
}
