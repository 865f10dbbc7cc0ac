import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { openDb, type DbHandle } from '../db/client.ts';
import { MAX_SOCKET_PAYLOAD_BYTES, SIGNALING_PATH } from '../signaling/protocol/index.ts';
import { RoomHub } from '../signaling/room-hub.ts';
import { createSignalingService } from '../signaling/signaling-service.ts';
import { recheckParticipants, revokeParticipants } from '../signaling/revocation.ts';
import { parseTrustedProxies } from './api/client-ip.ts';
import { AuditCheckpointer } from './audit/checkpoints.ts';
import { defaultUdpBufferBytes, WorkerPool, type TransportWatchOptions } from '../sfu/index.ts';
import { logTransportEvent } from './media/media-telemetry.ts';
import { createApp, MAX_BODY_BYTES, type App } from './app.ts';
import { createBus } from './bus/create-bus.ts';
import type { Bus } from './bus/types.ts';
import type { Config } from './config.ts';
import { startSocketServer } from './http/start-socket-server.ts';
import type { SocketServer } from './http/socket-server.ts';
import { createMetrics } from './ops/metrics.ts';
import { metricsAccess } from './ops/metrics-access.ts';
import { iceServersFor } from './media/turn-credentials.ts';
import { demoLinks, type DemoRoom } from './demo/routes.ts';
import { createRoomLifecycle } from './media/room-lifecycle-service.ts';
import { seedDemo } from './demo/demo-seed.ts';
import { createServices, type Services } from './services.ts';
import { RoomChatService } from './messaging/room-chat.ts';

export type NodeOptions = {
  /** Rooms with nobody in them close after this long. */
  emptyRoomTimeoutMs?: number;
  busPrefix?: string;
  /** How long a dropped participant is kept for resumption (tests shorten it). */
  resumeGraceMs?: number;
  /** How often link quality is pushed to rooms. */
  qualityIntervalMs?: number;
  /** Participants per room; the product limit unless a load test raises it. */
  roomCapacity?: number;
  /** The clock of consultation windows (join tokens, join checks); tests set it. */
  now?: () => Date;
  /** How often live participants' join grants are checked again (heals a lost revocation message). */
  grantRecheckMs?: number;
  /** Media transport stall detection (tests shorten it). */
  transportWatch?: TransportWatchOptions;
};

const CLAIM_TTL_MS = 60_000;

/** One CareCall node: starts its parts in dependency order and stops them in reverse. */
export class CareCallNode {
  readonly nodeId = `node-${randomBytes(6).toString('hex')}`;
  #stops: { name: string; stop: () => Promise<void> | void }[] = [];
  #stopping: Promise<void> | undefined;
  db!: DbHandle;
  bus!: Bus;
  pool!: WorkerPool;
  hub!: RoomHub;
  server!: SocketServer;
  /** The HTTP app behind the socket server (its route table is what the header test walks). */
  app!: App;
  demo: DemoRoom | undefined;
  /** Everything createServices built (identity, scheduling, consultations, join tokens and grants). */
  services!: Services;

  private constructor(
    readonly config: Config,
    readonly logger: Logger,
  ) {}

  static async start(config: Config, logger: Logger, opts: NodeOptions = {}): Promise<CareCallNode> {
    const node = new CareCallNode(config, logger);
    try {
      await node.#start(opts);
    } catch (err) {
      await node.stop();
      throw err;
    }
    return node;
  }

  /** Mints join tokens (tests and load bots join rooms with these). */
  get issuer() {
    return this.services.issuer;
  }

  get identity() {
    return this.services.identity;
  }

  get port() {
    return this.server.port;
  }

  get baseUrl() {
    const host = this.config.host === '0.0.0.0' || this.config.host === '::' ? 'localhost' : this.config.host;
    return this.config.publicUrl ?? `http://${host}:${this.port}`;
  }

  demoLinks() {
    return this.demo ? demoLinks(this.baseUrl, this.demo) : undefined;
  }

  async #start(opts: NodeOptions) {
    const { config, logger } = this;
    this.db = await openDb({
      databaseUrl: config.databaseUrl,
      pgliteDir: config.pgliteDir,
      ...config.database,
    });
    this.#onStop('database', () => this.db.close());
    logger.info({ db: this.db.kind }, 'database ready');

    this.bus = await createBus(config.redisUrl, opts.busPrefix, (err) =>
      logger.warn({ err: err.message }, 'redis connection problem'),
    );
    this.#onStop('bus', () => this.bus.close());
    logger.info({ bus: this.bus.kind }, 'bus ready');

    this.pool = await WorkerPool.create({
      numWorkers: config.rtc.workers,
      listenIp: config.rtc.listenIp,
      announcedIp: config.rtc.announcedIp,
      basePort: config.rtc.port,
      socketsPerWorker: config.rtc.socketsPerWorker,
      transportWatch: opts.transportWatch,
    });
    this.pool.on('workerDied', (index, error) =>
      logger.error({ worker: index, error: error.message }, 'media worker died'),
    );
    this.pool.on('workerRespawnFailed', (index, error, attempt, retryInMs) =>
      logger.error(
        { worker: index, error: error.message, attempt, retryInMs },
        'media worker could not be restarted; retrying',
      ),
    );
    this.#onStop('sfu workers', () => this.pool.close());
    const buffers = defaultUdpBufferBytes();
    logger.info(
      {
        workers: this.pool.workers.length,
        socketsPerWorker: config.rtc.socketsPerWorker,
        udpReceiveBufferBytes: buffers.receive,
        udpSendBufferBytes: buffers.send,
      },
      'media workers ready',
    );

    this.services = await createServices(
      config,
      { db: this.db.db, logger, bus: this.bus },
      { publicUrl: () => this.baseUrl, ...(opts.now ? { consultationClock: opts.now } : {}) },
    );
    for (const { name, stop } of this.services.stops) this.#onStop(name, stop);
    const { identity, scheduling, joinKeys } = this.services;
    if (joinKeys.ephemeral)
      logger.warn('JOIN_TOKEN_PRIVATE_KEY not set: using a per-process key (development only)');
    logger.info({ email: this.services.notifier.kind, sms: 'outbox' }, 'notification delivery');
    // Before any request: the chain's newest entry is keyed from here on (see AuditLog.keyChainHead).
    await identity.audit.keyChainHead();
    const checkpoints = new AuditCheckpointer(identity.audit, identity.keys.privateKey, logger);
    checkpoints.start(config.auth.auditCheckpointSeconds * 1000);
    this.#onStop('audit checkpoints', () => checkpoints.stop());
    if (identity.ephemeralKey)
      logger.warn('AUTH_TOKEN_PRIVATE_KEY not set: using a per-process key (development only)');
    if (identity.ephemeralAuditKey)
      logger.warn(
        'audit chain key is per-process (no AUTH_TOKEN_PRIVATE_KEY or AUDIT_CHAIN_KEY): entries of earlier runs will not verify',
      );
    // Before any request: notes written before bodies were sealed are sealed now (migration 0011).
    const sealedNotes = await this.services.records.sealPlaintextNotes();
    if (sealedNotes) logger.info({ sealedNotes }, 'plaintext patient notes sealed');
    if (config.demo) {
      const { created } = await seedDemo(this.db.db, identity.passwords);
      logger.info({ created }, 'demo clinic ready');
    }
    if (config.scheduling.workerEnabled) {
      // After the database (it needs it), before the socket server; stopped before the database closes.
      const worker = scheduling.createWorker(logger);
      worker.start();
      this.#onStop('scheduling worker', () => worker.stop());
      logger.info({ tickMs: config.scheduling.workerTickMs }, 'scheduling worker started');
    }
    if (config.messaging.notifyWorkerEnabled) {
      // Unread chat e-mails: claims in the database, so every node runs it and each member gets one.
      const notices = this.services.messaging.unreadNotifier;
      notices.start();
      this.#onStop('unread chat notices', () => notices.stop());
    }

    const metrics = createMetrics(() => this.pool.health().alive, this.pool);
    this.pool.transports.on('event', (event) => {
      metrics.transportEvent(event.kind);
      logTransportEvent(logger, event);
    });
    const lifecycle = createRoomLifecycle(this.db.db, this.bus, this.nodeId, logger, CLAIM_TTL_MS);
    this.hub = new RoomHub({
      pool: this.pool,
      lifecycle,
      metrics: metrics.signaling,
      logger,
      emptyRoomTimeoutMs: opts.emptyRoomTimeoutMs ?? 60_000,
      claimRefreshMs: CLAIM_TTL_MS / 3,
      qualityIntervalMs: opts.qualityIntervalMs,
      roomCapacity: opts.roomCapacity,
    });
    this.#onStop('rooms', () => this.hub.close('shutdown'));

    if (config.demo)
      this.demo = {
        roomId: randomBytes(12).toString('base64url'),
        key: randomBytes(9).toString('base64url'),
      };
    const app = (this.app = createApp(this.services, {
      logger,
      demo: this.demo,
      devOutbox: config.demo ? this.services.outbox : undefined,
      registry: metrics.registry,
      turn: config.turn,
      trustedProxies: config.trustedProxies.length ? parseTrustedProxies(config.trustedProxies) : undefined,
      securityHeaders: { hstsMaxAgeSeconds: config.hstsMaxAgeSeconds },
      metricsAccess: metricsAccess({
        allow: parseTrustedProxies(config.metrics.allow),
        token: config.metrics.token,
        trustedProxies: config.trustedProxies.length ? parseTrustedProxies(config.trustedProxies) : undefined,
      }),
      checks: {
        database: () => this.db.ping(),
        bus: () => this.bus.ping(),
        sfu: async () => {
          const { alive, total } = this.pool.health();
          if (alive === 0 || alive < total) throw new Error('workers down');
        },
      },
    }));
    const joinGrants = this.services.joinGrants!;
    const signaling = createSignalingService({
      verify: this.services.verifyJoinToken,
      hub: this.hub,
      lifecycle,
      metrics: metrics.signaling,
      logger,
      resumeGraceMs: opts.resumeGraceMs,
      iceServersFor: (peerId) => iceServersFor(config.turn, peerId),
      grants: joinGrants,
      chat: new RoomChatService(this.db.db, this.services.messaging),
      maxSocketsPerIdentity: config.joinToken.maxSockets,
      joinDeadlineMs: config.joinToken.joinDeadlineMs,
    });
    // Revocations (from this node's API or another's, over the bus) close the participants they cover.
    await joinGrants.start((revocation) => {
      const closed = revokeParticipants(signaling.sessions.values(), this.hub, revocation);
      if (closed)
        logger.info(
          { roomId: revocation.room, reason: revocation.reason, closed },
          'join grant revoked: participants closed',
        );
    });
    const recheck = setInterval(() => {
      recheckParticipants(signaling.sessions.values(), this.hub, joinGrants)
        .then(
          (closed) =>
            closed && logger.warn({ closed }, 'join grants found revoked on re-check: participants closed'),
        )
        .catch((err: Error) => logger.warn({ err: err.message }, 'join grant re-check failed'));
    }, opts.grantRecheckMs ?? 30_000);
    recheck.unref();
    this.#onStop('join grants', async () => {
      clearInterval(recheck);
      await joinGrants.stop();
    });
    this.server = await startSocketServer(
      config.socketServer,
      {
        host: config.host,
        port: config.port,
        path: SIGNALING_PATH,
        maxPayloadBytes: MAX_SOCKET_PAYLOAD_BYTES,
        sharePort: config.portSharing,
        maxBackpressureBytes: 4 * 1024 * 1024,
        maxHttpBodyBytes: MAX_BODY_BYTES,
        fetch: (request, env) => app.fetch(request, env),
        authorize: (request) => signaling.authorize(request),
        open: (connection, claims) => signaling.open(connection, claims),
      },
      logger,
    );
    this.#onStop('socket server', () => this.server.close('server_shutdown'));
  }

  #onStop(name: string, stop: () => Promise<void> | void) {
    this.#stops.push({ name, stop });
  }

  /** Reverse start order: stop accepting, close rooms, workers, bus, then the database. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const { name, stop } of this.#stops.reverse()) {
        try {
          await stop();
          this.logger.info({ part: name }, 'stopped');
        } catch (err) {
          this.logger.error({ part: name, err }, 'stop failed');
        }
      }
    })();
    return this.#stopping;
  }
}
