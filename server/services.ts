import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';
import type { AppointmentStatus } from '../db/schema/index.ts';
import { createJoinTokenVerifier, type JoinTokenVerifier } from '../signaling/verify-join-token.ts';
import type { ClusterBus } from './cluster/cluster-bus.ts';
import type { Config } from './config.ts';
import { ConsultationService } from './consultations/consultation-service.ts';
import { JoinGrants } from './consultations/join-grants.ts';
import { createDataEncryption } from './crypto/index.ts';
import { DemoConsultation } from './demo/demo-consultation.ts';
import { createIdentity } from './identity/create-identity.ts';
import { JoinTokenIssuer, loadJoinTokenKeys, type JoinTokenKeys } from './media/join-tokens.ts';
import { OutboxNotificationProvider } from './notifications/outbox-provider.ts';
import { SmtpNotificationProvider } from './notifications/smtp-provider.ts';
import type { NotificationProvider } from './notifications/types.ts';
import { Messaging } from './messaging/messaging.ts';
import { LiveChat } from './livechat/live-chat.ts';
import { MessagingConversationAccess } from './files/conversation-access.ts';
import { DownloadLinks } from './files/download-links.ts';
import { Files } from './files/files.ts';
import { RoomAdmissions } from './files/room-admissions.ts';
import { RoomFileGrants, ROOM_FILE_GRANT_TTL_SECONDS } from './files/room-file-grants.ts';
import { Thumbnailer } from './files/thumbnails.ts';
import type { BlobStore } from './storage/blob-store.ts';
import { LocalDiskBlobStore } from './storage/local-disk-blob-store.ts';
import { FhirApi } from './fhir/fhir-api.ts';
import { PatientRecords } from './records/patient-repository.ts';
import { ClinicalRecords, once } from './records/encounters/clinical-records.ts';
import type { FinaliseStep, SummarySigning } from './records/encounters/deps.ts';
import { loadPdfFonts } from './records/pdf/fonts.ts';
import { DeploymentCa } from './records/signing/ca.ts';
import { createScheduling } from './scheduling/create-scheduling.ts';
import { SecretSealer } from './identity/secret-sealer.ts';
import { Webhooks } from './webhooks/webhooks.ts';
import { Icd10Search } from './records/icd10/icd10-search-service.ts';
import { createEmbed } from './embed/create-embed.ts';

/** What the services run on; opened (and closed) by the caller: the node, a test, a load test. */
export type Infra = {
  db: Db;
  logger: Logger;
  /** Without a bus there are no join grants (API-only tests and load tests run without sockets). */
  bus?: ClusterBus | undefined;
};

/** What a caller may choose instead of the configured default; anything else comes from config. */
export type ServiceOverrides = {
  /** Base URL of links in messages, guest invitations and the .ics feed. */
  publicUrl?: () => string;
  /** Instead of SMTP or the outbox (a test that captures deliveries). */
  notifier?: NotificationProvider;
  /** The clock of consultation windows (join tokens, join checks, join grants). */
  consultationClock?: () => Date;
  /** The clock of scheduling (reminders, dispatch intervals, licence notices, bookings). */
  schedulingClock?: () => Date;
  /** Where encrypted file contents go instead of BLOB_STORE_DIR on local disk (another directory, an S3 store). */
  blobs?: BlobStore;
  /** Booking phase timings (the booking load test). */
  observeBooking?: (phase: string, ms: number) => void;
  /** The CA and fonts summaries are signed with, instead of loading them from RECORDS_* configuration. */
  summarySigning?: () => Promise<SummarySigning>;
  /** Called before each step of a finalisation (the all-or-nothing tests fail it there). */
  beforeFinaliseStep?: (step: FinaliseStep) => void | Promise<void>;
};

export type Services = Awaited<ReturnType<typeof createServices>>;

/**
 * The one composition root: every service is built here, once, with its implementation chosen
 * here (SMTP or outbox, with or without join grants). The node, the tests and the load tests all
 * call this, so they run the same wiring; the HTTP app and the signaling tier only receive it.
 */
export async function createServices(config: Config, infra: Infra, overrides: ServiceOverrides = {}) {
  const { db, logger, bus } = infra;
  const publicUrl = overrides.publicUrl ?? (() => config.publicUrl ?? '');
  const outbox = new OutboxNotificationProvider(db);
  const notifier =
    overrides.notifier ?? (config.smtp ? new SmtpNotificationProvider(db, config.smtp, outbox) : outbox);
  const identity = await createIdentity({ db, config: config.auth, notifier, publicUrl });

  const encryption = await createDataEncryption(db, config.dataEncryption, (message) => logger.warn(message));
  const records = new PatientRecords({
    db,
    policy: identity.policy,
    audit: identity.audit,
    sealer: encryption.messages,
    breakGlassTtlSeconds: config.auth.breakGlassTtlSeconds,
  });

  // Chat: without a bus (API-only tests, one process) the fan-out reaches this process's listeners only.
  const messaging = new Messaging({
    db,
    audit: identity.audit,
    sealer: encryption.messages,
    bus,
    logger,
    config: config.messaging,
    notifier,
    publicUrl,
  });

  identity.memberships.on((userIds) => messaging.membershipChanged(userIds));

  // Operator live chat: its state in the database, its messages through chat.
  const livechat = new LiveChat({
    db,
    audit: identity.audit,
    messaging,
    notifier,
    bus,
    logger,
    leaseMs: config.livechat.leaseMs,
    maxMessageBytes: config.messaging.maxBytes,
  });

  // Files: tus uploads encrypted into the blob store, membership as chat decides it.
  const blobs = overrides.blobs ?? (await LocalDiskBlobStore.open(config.blobStoreDir));
  const admissions = new RoomAdmissions(db);
  const files = new Files({
    db,
    audit: identity.audit,
    admissions,
    access: new MessagingConversationAccess({ db, audit: identity.audit, admissions }),
    cipher: encryption.files,
    sealer: encryption.messages,
    blobs,
    links: new DownloadLinks(identity.keys.derive('file-download-links'), config.files.linkTtlSeconds),
    grants: new RoomFileGrants(identity.keys.derive('room-file-grants'), ROOM_FILE_GRANT_TTL_SECONDS),
    thumbnails: new Thumbnailer({
      db,
      blobs,
      cipher: encryption.files,
      warn: (fields, message) => logger.warn(fields, message),
    }),
    config: config.files,
    sessionActor: async (sessionId) => {
      const s = await identity.sessions.validate(sessionId);
      return { userId: s.userId, role: s.role, sessionId: s.id, clinicIds: s.clinicIds };
    },
    logError: (err) => logger.error({ err: { message: (err as Error)?.message } }, 'file upload failed'),
  });

  const clinicalRecords = new ClinicalRecords({
    db,
    policy: identity.policy,
    audit: identity.audit,
    sealer: encryption.messages,
    cipher: encryption.files,
    blobs,
    signing:
      overrides.summarySigning ??
      once(async () => ({
        ca: await DeploymentCa.load(config.records, { env: config.env, log: logger }),
        fonts: loadPdfFonts(config.records.pdfFontDir),
      })),
    publicUrl,
    now: () => new Date(),
    onStatusChange: (appointmentId, to) => onStatusChange?.(appointmentId, to),
    ...(overrides.beforeFinaliseStep ? { beforeStep: overrides.beforeFinaliseStep } : {}),
  });

  const joinKeys: JoinTokenKeys = loadJoinTokenKeys(config.joinToken.privateKeyPem);
  const issuer = new JoinTokenIssuer(joinKeys, config.joinToken.ttlSeconds);
  const verifyJoinToken: JoinTokenVerifier = createJoinTokenVerifier(joinKeys.publicKey);
  // Before the services that revoke grants (scheduling, consultations); started with signaling.
  const joinGrants = bus ? new JoinGrants({ db, bus, logger, now: overrides.consultationClock }) : undefined;
  const onStatusChange = joinGrants
    ? (appointmentId: string, to: AppointmentStatus) => joinGrants.statusChanged(appointmentId, to)
    : undefined;

  const scheduling = createScheduling({
    db,
    policy: identity.policy,
    audit: identity.audit,
    provider: notifier,
    config: config.scheduling,
    ...(overrides.schedulingClock ? { now: overrides.schedulingClock } : {}),
    ...(overrides.observeBooking ? { observeBooking: overrides.observeBooking } : {}),
    ...(onStatusChange ? { onStatusChange } : {}),
  });
  // FHIR R4: read and search over the same services, policy and audit log as the JSON API.
  const fhir = new FhirApi({
    db,
    policy: identity.policy,
    audit: identity.audit,
    auditQueries: identity.auditQueries,
    scheduling,
    messaging,
  });
  const consultations = new ConsultationService({
    db,
    policy: identity.policy,
    audit: identity.audit,
    issuer,
    now: overrides.consultationClock ?? (() => new Date()),
    publicUrl,
    grants: joinGrants,
  });

  // Webhooks: endpoints per clinic; signing secrets sealed under a key derived from the node's key.
  const webhooks = new Webhooks({
    db,
    policy: identity.policy,
    audit: identity.audit,
    secrets: new SecretSealer(identity.keys.derive('webhook-signing-secrets')),
    notifier,
    config: config.webhooks,
  });

  // The embeddable widget: clinic API keys mint sessions whose patients join through the same checks.
  const embed = createEmbed({
    db,
    identity,
    consultations,
    now: overrides.consultationClock ?? (() => new Date()),
    publicUrl,
  });

  // Demo mode's links join this (a real appointment of the demo doctor and patient, booked on demand).
  const demoConsultation = new DemoConsultation({
    db,
    consultations,
    now: overrides.consultationClock ?? (() => new Date()),
  });

  return {
    config,
    publicUrl,
    outbox,
    notifier,
    identity,
    encryption,
    records,
    clinicalRecords,
    messaging,
    livechat,
    blobs,
    files,
    joinKeys,
    issuer,
    verifyJoinToken,
    joinGrants,
    scheduling,
    fhir,
    consultations,
    embed,
    demoConsultation,
    webhooks,
    icd10: new Icd10Search({ db, policy: identity.policy }),
    /**
     * What the services own and must end, in start order (the caller stops them in reverse and
     * closes the infrastructure itself): the SMTP pool, the password hashing threads.
     */
    stops: [
      ...(notifier instanceof SmtpNotificationProvider
        ? [{ name: 'smtp', stop: () => notifier.close() }]
        : []),
      { name: 'password hashing threads', stop: () => identity.passwords.close() },
    ],
  };
}
