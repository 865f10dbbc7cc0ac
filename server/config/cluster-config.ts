import { z } from 'zod';
import { base64Key32, optionalUrl, refuse } from './env-fields.ts';

// Shared state: the database, Redis, and how nodes of one deployment hold their rooms.
export const clusterEnv = z.object({
  DATABASE_URL: optionalUrl(['postgres://', 'postgresql://']),
  PGLITE_DIR: z.string().default('.data/pglite'),
  // PostgreSQL only: bounded waits when the database is slow or gone (then requests answer 503).
  DB_CONNECT_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(120).default(5),
  DB_QUERY_TIMEOUT_SECONDS: z.coerce.number().int().min(0).max(3600).default(10),
  REDIS_URL: optionalUrl(['redis://', 'rediss://']),
  // Key and channel prefix: the nodes of one deployment share it; another deployment on the same Redis does not.
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]{1,64}$/)
    .default('carecall:'),
  // A room's lease in the directory: a dead node's rooms are free again after this long.
  CLUSTER_LEASE_MS: z.coerce.number().int().min(500).max(60_000).default(4000),
  // How often a node renews its leases and announces its load (well under the lease).
  CLUSTER_HEARTBEAT_MS: z.coerce.number().int().min(100).max(20_000).default(1000),
  // Signs every bus message and node state in Redis (32 bytes, base64); the same on every node of a deployment.
  CLUSTER_KEY: base64Key32.optional(),
  // SIGTERM with Redis: rooms here may run this long before their participants are moved (0 = move at once).
  DRAIN_DEADLINE_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
});

export type ClusterConfig = {
  databaseUrl: string | undefined;
  pgliteDir: string;
  /** PostgreSQL waits: opening a connection; a query, BEGIN or COMMIT (0 = unlimited). */
  database: { connectTimeoutSeconds: number; queryTimeoutMs: number };
  redisUrl: string | undefined;
  redisPrefix: string;
  /** Undefined: derived from REDIS_URL and REDIS_PREFIX (development and tests; refused in production). */
  clusterKey: Buffer | undefined;
  cluster: { leaseMs: number; heartbeatMs: number; drainDeadlineMs: number };
};

export function clusterConfig(e: z.infer<typeof clusterEnv>, nodeEnv: string): ClusterConfig {
  if (nodeEnv === 'production' && e.REDIS_URL && !e.CLUSTER_KEY)
    refuse('CLUSTER_KEY', 'required in production when REDIS_URL is set (openssl rand -base64 32)');
  return {
    databaseUrl: e.DATABASE_URL,
    pgliteDir: e.PGLITE_DIR,
    database: {
      connectTimeoutSeconds: e.DB_CONNECT_TIMEOUT_SECONDS,
      queryTimeoutMs: e.DB_QUERY_TIMEOUT_SECONDS * 1000,
    },
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    clusterKey: e.CLUSTER_KEY,
    cluster: {
      leaseMs: e.CLUSTER_LEASE_MS,
      heartbeatMs: Math.min(e.CLUSTER_HEARTBEAT_MS, e.CLUSTER_LEASE_MS / 3),
      drainDeadlineMs: e.DRAIN_DEADLINE_SECONDS * 1000,
    },
  };
}
