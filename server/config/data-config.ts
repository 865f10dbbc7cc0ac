import { z } from 'zod';
import { base64Key32, commaList, isBase64Key32, pemOf, refuse } from './env-fields.ts';

// What the server keeps: encryption at rest, signed records, files and chat.
export const dataEnv = z.object({
  // Signed PDF summaries: the deployment's own CA (both PEMs, or neither: then a development CA is
  // generated into RECORDS_CA_DIR, refused in production) and the TrueType fonts the PDFs embed.
  RECORDS_CA_CERTIFICATE: pemOf('CERTIFICATE'),
  RECORDS_CA_PRIVATE_KEY: pemOf('PRIVATE KEY'),
  RECORDS_CA_DIR: z.string().trim().min(1).default('.data/records-ca'),
  RECORDS_PDF_FONT_DIR: z.string().trim().min(1).default('/usr/share/fonts/truetype/dejavu'),
  // Encryption at rest: the key-encryption key that wraps every data key, its version, and earlier
  // versions kept for reading until their data keys are re-wrapped (server/crypto/).
  DATA_KEK: base64Key32.optional(),
  DATA_KEK_VERSION: z.coerce.number().int().min(1).max(2_147_483_647).default(1),
  DATA_KEK_PREVIOUS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const keys: { version: number; key: Buffer }[] = [];
      for (const entry of commaList(v)) {
        const m = /^(\d{1,10}):(.+)$/.exec(entry);
        const version = m ? Number(m[1]) : NaN;
        const key = m && isBase64Key32(m[2]!) ? Buffer.from(m[2]!, 'base64') : undefined;
        if (!key || !(version >= 1 && version <= 2_147_483_647)) {
          ctx.addIssue({
            code: 'custom',
            message:
              'must be comma-separated version:base64 pairs (a version from 1, a key of exactly 32 bytes)',
          });
          return z.NEVER;
        }
        keys.push({ version, key });
      }
      return keys;
    }),
  DATA_KEY_CACHE_SIZE: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  BLOB_STORE_DIR: z.string().trim().min(1).default('.data/blobs'),
  // Files (server/files/): the largest upload and the media types a clinic accepts unless it sets
  // its own, and how long a download link lives.
  FILE_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(2 ** 40)
    .default(2 * 1024 ** 3),
  FILE_ALLOWED_TYPES: z
    .string()
    .default('application/pdf,image/jpeg,image/png,image/webp,image/gif,text/plain,video/mp4,audio/mpeg')
    .transform((v) => commaList(v).map((t) => t.toLowerCase())),
  FILE_LINK_TTL_SECONDS: z.coerce.number().int().min(10).max(3600).default(300),
  // Chat (server/messaging/): message size in UTF-8 bytes, sends per member per second (and burst),
  // and how long a message stays unread before its members get an e-mail (no message text in it).
  MESSAGE_MAX_BYTES: z.coerce.number().int().min(1).max(65_536).default(8192),
  MESSAGE_RATE_PER_SECOND: z.coerce.number().min(0.1).max(1_000_000).default(5),
  MESSAGE_RATE_BURST: z.coerce.number().int().min(1).max(1_000_000).default(20),
  MESSAGE_UNREAD_NOTIFY_SECONDS: z.coerce.number().int().min(1).max(604_800).default(900),
  MESSAGE_NOTIFY_WORKER: z.enum(['on', 'off']).default('on'),
  MESSAGE_NOTIFY_TICK_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  // Live chat (server/livechat/): how long an operator's presence holds without a heartbeat, and how
  // often each node sweeps for unanswered chats and expired presences (the sweep is cluster-safe).
  LIVECHAT_LEASE_SECONDS: z.coerce.number().int().min(5).max(3600).default(60),
  LIVECHAT_SWEEP_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  LIVECHAT_WORKER: z.enum(['on', 'off']).default('on'),
});

export type RecordsConfig = {
  /** PEM of the deployment CA's certificate and PKCS#8 key; both undefined = development CA in caDir. */
  caCertificatePem: string | undefined;
  caPrivateKeyPem: string | undefined;
  caDir: string;
  /** Holds DejaVuSans.ttf and DejaVuSans-Bold.ttf (Debian fonts-dejavu-core). */
  pdfFontDir: string;
};

export type DataEncryptionConfig = {
  /** The KEK that wraps new data keys; undefined = a per-process key (refused in production). */
  kek: { version: number; key: Buffer } | undefined;
  /** Earlier (or not yet current) KEK versions, for unwrapping only. */
  previousKeks: { version: number; key: Buffer }[];
  /** How many unwrapped data keys each process keeps in memory. */
  cacheSize: number;
};

export type FilesConfig = {
  maxBytes: number;
  allowedTypes: readonly string[];
  linkTtlSeconds: number;
};

export type MessagingConfig = {
  maxBytes: number;
  ratePerSecond: number;
  rateBurst: number;
  /** A message unread this long gets its members one e-mail (per batch of unread messages). */
  unreadNotifyMs: number;
  notifyWorkerEnabled: boolean;
  notifyTickMs: number;
};

export type LiveChatConfig = {
  leaseMs: number;
  sweepMs: number;
  workerEnabled: boolean;
};

export type DataConfig = {
  livechat: LiveChatConfig;
  records: RecordsConfig;
  dataEncryption: DataEncryptionConfig;
  messaging: MessagingConfig;
  /** Local-disk blob store root (encrypted file contents). */
  blobStoreDir: string;
  files: FilesConfig;
};

export function dataConfig(e: z.infer<typeof dataEnv>, nodeEnv: string): DataConfig {
  if (nodeEnv === 'production' && !e.DATA_KEK) {
    refuse('DATA_KEK', 'required in production (32 bytes, base64: openssl rand -base64 32)');
  }
  const kekVersions = [
    ...(e.DATA_KEK ? [e.DATA_KEK_VERSION] : []),
    ...e.DATA_KEK_PREVIOUS.map((k) => k.version),
  ];
  if (new Set(kekVersions).size !== kekVersions.length) {
    refuse('DATA_KEK_PREVIOUS', 'each key version may appear once (and not repeat DATA_KEK_VERSION)');
  }
  if ((e.RECORDS_CA_CERTIFICATE === undefined) !== (e.RECORDS_CA_PRIVATE_KEY === undefined)) {
    refuse(
      e.RECORDS_CA_CERTIFICATE === undefined ? 'RECORDS_CA_CERTIFICATE' : 'RECORDS_CA_PRIVATE_KEY',
      'RECORDS_CA_CERTIFICATE and RECORDS_CA_PRIVATE_KEY are set together or not at all',
    );
  }
  return {
    records: {
      caCertificatePem: e.RECORDS_CA_CERTIFICATE,
      caPrivateKeyPem: e.RECORDS_CA_PRIVATE_KEY,
      caDir: e.RECORDS_CA_DIR,
      pdfFontDir: e.RECORDS_PDF_FONT_DIR,
    },
    dataEncryption: {
      kek: e.DATA_KEK ? { version: e.DATA_KEK_VERSION, key: e.DATA_KEK } : undefined,
      previousKeks: e.DATA_KEK_PREVIOUS,
      cacheSize: e.DATA_KEY_CACHE_SIZE,
    },
    messaging: {
      maxBytes: e.MESSAGE_MAX_BYTES,
      ratePerSecond: e.MESSAGE_RATE_PER_SECOND,
      rateBurst: e.MESSAGE_RATE_BURST,
      unreadNotifyMs: e.MESSAGE_UNREAD_NOTIFY_SECONDS * 1000,
      notifyWorkerEnabled: e.MESSAGE_NOTIFY_WORKER === 'on',
      notifyTickMs: e.MESSAGE_NOTIFY_TICK_MS,
    },
    livechat: {
      leaseMs: e.LIVECHAT_LEASE_SECONDS * 1000,
      sweepMs: e.LIVECHAT_SWEEP_MS,
      workerEnabled: e.LIVECHAT_WORKER === 'on',
    },
    blobStoreDir: e.BLOB_STORE_DIR,
    files: {
      maxBytes: e.FILE_MAX_BYTES,
      allowedTypes: e.FILE_ALLOWED_TYPES,
      linkTtlSeconds: e.FILE_LINK_TTL_SECONDS,
    },
  };
}
