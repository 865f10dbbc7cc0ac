import { z } from 'zod';
import { parseTrustedProxies } from '../api/client-ip.ts';
import { DEFAULT_METRICS_ALLOW } from '../ops/metrics-access.ts';
import type { TurnConfig } from '../media/turn-credentials.ts';
import { commaList, ipv4OrHost, port, refuse } from './env-fields.ts';

const cidrList = (fallback?: readonly string[]) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined && fallback ? [...fallback] : commaList(v)))
    .superRefine((entries, ctx) => {
      try {
        parseTrustedProxies(entries);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    });

// The node's edge: HTTP and WebSocket listener, media ports, TURN, proxies, metrics access.
export const networkEnv = z.object({
  HOST: ipv4OrHost.default('0.0.0.0'),
  PORT: port.default(3000),
  PUBLIC_URL: z.url().optional(),
  RTC_LISTEN_IP: ipv4OrHost.default('127.0.0.1'),
  RTC_ANNOUNCED_IP: ipv4OrHost.optional(),
  RTC_PORT: port.default(0),
  SFU_WORKERS: z.coerce.number().int().min(1).max(64).optional(),
  RTC_SOCKETS_PER_WORKER: z.coerce.number().int().min(1).max(16).default(4),
  // Peers of one room on one worker before the room spreads to another (0 = never spread).
  SFU_ROOM_PEERS_PER_WORKER: z.coerce.number().int().min(0).max(10_000).default(50),
  TURN_URLS: z
    .string()
    .optional()
    .transform(commaList)
    .refine((urls) => urls.every((u) => /^turns?:[^\s]+$/.test(u)), {
      message: 'must be comma-separated turn: or turns: URIs',
    }),
  TURN_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  TURN_CREDENTIAL_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600),
  SOCKET_SERVER: z.enum(['auto', 'uws', 'ws']).default('auto'),
  // Several processes on one port (SO_REUSEPORT) only when asked: otherwise a taken port is an error.
  PORT_SHARING: z.enum(['on', 'off']).default('off'),
  // Reverse proxies whose X-Forwarded-For is believed (IPs or CIDR ranges); nobody's by default.
  TRUSTED_PROXIES: cidrList(),
  // Strict-Transport-Security max-age for nodes served over HTTPS (by a TLS proxy); 0 = not sent.
  HSTS_MAX_AGE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 * 365 * 86_400)
    .default(0),
  // Who may scrape /metrics on the public port: these addresses, or anyone with the bearer token.
  METRICS_ALLOW: cidrList(DEFAULT_METRICS_ALLOW),
  METRICS_TOKEN: z
    .string()
    .min(32, 'must be at least 32 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .optional(),
});

export type NetworkConfig = {
  host: string;
  port: number;
  publicUrl: string | undefined;
  rtc: {
    listenIp: string;
    announcedIp: string | undefined;
    port: number;
    workers: number | undefined;
    socketsPerWorker: number;
    /** A room opens a router on another worker past this many peers on one (0 = never). */
    roomPeersPerWorker: number;
  };
  socketServer: 'auto' | 'uws' | 'ws';
  /** Listen with SO_REUSEPORT so several nodes can share the port; off = EADDRINUSE on a taken port. */
  portSharing: boolean;
  /** IPs or CIDR ranges of reverse proxies whose X-Forwarded-For names the client. */
  trustedProxies: string[];
  /** Strict-Transport-Security max-age; 0 = off (plain HTTP, or TLS not yet settled). */
  hstsMaxAgeSeconds: number;
  /** /metrics: addresses or CIDR ranges allowed without a token, and the optional bearer token. */
  metrics: { allow: string[]; token: string | undefined };
  /** Relay for participants whose network blocks direct media; coturn REST-API credentials. */
  turn: TurnConfig | undefined;
};

export function networkConfig(e: z.infer<typeof networkEnv>): NetworkConfig {
  if (e.TURN_URLS.length > 0 && !e.TURN_SECRET) {
    refuse('TURN_SECRET', 'required when TURN_URLS is set (coturn static-auth-secret)');
  }
  return {
    host: e.HOST,
    port: e.PORT,
    publicUrl: e.PUBLIC_URL,
    rtc: {
      listenIp: e.RTC_LISTEN_IP,
      announcedIp: e.RTC_ANNOUNCED_IP,
      port: e.RTC_PORT,
      workers: e.SFU_WORKERS,
      socketsPerWorker: e.RTC_SOCKETS_PER_WORKER,
      roomPeersPerWorker: e.SFU_ROOM_PEERS_PER_WORKER,
    },
    socketServer: e.SOCKET_SERVER,
    portSharing: e.PORT_SHARING === 'on',
    trustedProxies: e.TRUSTED_PROXIES,
    metrics: { allow: e.METRICS_ALLOW, token: e.METRICS_TOKEN },
    hstsMaxAgeSeconds: e.HSTS_MAX_AGE_SECONDS,
    turn:
      e.TURN_URLS.length > 0 && e.TURN_SECRET
        ? { urls: e.TURN_URLS, secret: e.TURN_SECRET, ttlSeconds: e.TURN_CREDENTIAL_TTL_SECONDS }
        : undefined,
  };
}
