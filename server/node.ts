import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { openDb, type DbHandle } from '../db/client.ts';
import { MAX_SOCKET_PAYLOAD_BYTES, SIGNALING_PATH, USER_SOCKET_PATH } from '../signaling/protocol/index.ts';
import type { UserSocketService } from '../signaling/user-socket-service.ts';
import { RoomHub } from '../signaling/room-hub.ts';
import { createSignalingService } from '../signaling/signaling-service.ts';
import { recheckParticipants, revokeParticipants } from '../signaling/revocation.ts';
import { parseTrustedProxies } from './api/client-ip.ts';
import { AuditCheckpointer } from './audit/checkpoints.ts';
import { defaultUdpBufferBytes, WorkerPool, type TransportWatchOptions } from '../sfu/index.ts';
import { logTransportEvent } from './media/media-telemetry.ts';
import { createApp, type App } from './app.ts';
import { createBus } from './bus/create-bus.ts';
import type { Bus } from './bus/types.ts';
import { ClusterBus } from './cluster/cluster-bus.ts';
import { ClusterHeartbeat } from './cluster/heartbeat.ts';
import { NodeRegistry } from './cluster/node-registry.ts';
import { RoomDirectory } from './cluster/room-directory.ts';
import { SignalRelay } from './cluster/signal-relay.ts';
import { drainNode } from './cluster/drain.ts';
import type { Session } from '../signaling/session.ts';
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
import { startBackgroundWork } from './background-work.ts';
import { ensureIcd10Codes } from './records/icd10/loader.ts';
import { startUserSockets } from './user-socket-wiring.ts';
import { RoomFilesService } from './files/room-files.ts';

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
  /** How often user sockets check their sessions again (USER_SOCKET_RECHECK_SECONDS unless a test shortens it). */
  userSocketRecheckMs?: number;
};

/** Forged or stale messages are logged, at most once per 10 s with their count (a flood must not flood the log). */
function rejectionLog(logger: Logger) {
  let since = 0;
  let dropped = 0;
  return (subject: string) => {
    dropped++;
    if (Date.now() - since < 10_000) return;
    logger.warn({ subject, dropped }, 'message without a valid cluster signature on Redis: dropped');
    since = Date.now();
    dropped = 0;
  };
}

/** The heartbeat renews leases; the hub's own re-claim only heals a lease lost some other way. */
const CLAIM_HEAL_MS = 30_000;

/** One CareCall node: starts its parts in dependency order and stops them in reverse. */
export class CareCallNode {
  readonly nodeId = `node-${randomBytes(6).toString('hex')}`;
  #stops: { name: string; stop: () => Promise<void> | void }[] = [];
  #stopping: Promise<void> | undefined;
  db!: DbHandle;
  /** The transport (Local or Redis): the directory and raw JSON messages. */
  bus!: Bus;
  /** The typed channels over the transport, validated on arrival. */
  cluster!: ClusterBus;
  /** Who owns which room (leases), and the live nodes with their load. */
  directory!: RoomDirectory;
  registry!: NodeRegistry;
  heartbeat!: ClusterHeartbeat;
  relay!: SignalRelay;
  #draining = false;
  #sessions: () => Iterable<Session> = () => [];
  pool!: WorkerPool;
  hub!: RoomHub;
  server!: SocketServer;
  /** The user sockets (/ws/user) open on this node. */
  userSockets!: UserSocketService;
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

    this.bus = await createBus(
      config.redisUrl,
      opts.busPrefix ?? config.redisPrefix,
      (err) => logger.warn({ err: err.message }, 'redis connection problem'),
      { key: config.clusterKey, onRejected: rejectionLog(logger) },
    );
    if (this.bus.kind === 'redis' && !config.clusterKey)
      logger.warn(
        'CLUSTER_KEY not set: bus messages signed with a key derived from REDIS_URL (development only)',
      );
    this.#onStop('bus', () => this.bus.close());
    logger.info({ bus: this.bus.kind, nodeId: this.nodeId }, 'bus ready');
    this.directory = new RoomDirectory(this.bus, this.nodeId, config.cluster.leaseMs);
    this.registry = new NodeRegistry(this.bus, config.cluster.leaseMs);
    this.cluster = new ClusterBus(this.bus, (invalid) =>
      logger.warn(invalid, 'malformed message on the bus: dropped'),
    );

    this.pool = await WorkerPool.create({
      numWorkers: config.rtc.workers,
      listenIp: config.rtc.listenIp,
      announcedIp: config.rtc.announcedIp,
      basePort: config.rtc.port,
      socketsPerWorker: config.rtc.socketsPerWorker,
      roomPeersPerWorker: config.rtc.roomPeersPerWorker,
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
      { db: this.db.db, logger, bus: this.cluster },
      { publicUrl: () => this.baseUrl, ...(opts.now ? { consultationClock: opts.now } : {}) },
    );
    for (const { name, stop } of this.services.stops) this.#onStop(name, stop);
    const { identity, joinKeys } = this.services;
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
    // The encounter form searches the ICD-10 list in the database: loaded here when it is missing.
    const icd10 = await ensureIcd10Codes(this.db.db);
    if (icd10) logger.info({ release: icd10.release, inserted: icd10.inserted }, 'ICD-10 codes loaded');
    if (config.demo) {
      const { created } = await seedDemo(this.db.db, identity.passwords);
      logger.info({ created }, 'demo clinic ready');
    }
    startBackgroundWork(config, this.services, logger, (name, stop) => this.#onStop(name, stop));

    const metrics = createMetrics(() => this.pool.health().alive, this.pool, this.nodeId);
    this.pool.transports.on('event', (event) => {
      metrics.transportEvent(event.kind);
      logTransportEvent(logger, event);
    });
    const lifecycle = createRoomLifecycle(this.db.db, this.cluster, this.directory, logger);
    this.hub = new RoomHub({
      pool: this.pool,
      lifecycle,
      metrics: metrics.signaling,
      logger,
      emptyRoomTimeoutMs: opts.emptyRoomTimeoutMs ?? 60_000,
      claimRefreshMs: CLAIM_HEAL_MS,
      qualityIntervalMs: opts.qualityIntervalMs,
      roomCapacity: opts.roomCapacity,
    });
    this.#onStop('rooms', () => this.hub.close('shutdown'));
    this.heartbeat = new ClusterHeartbeat({
      directory: this.directory,
      registry: this.registry,
      intervalMs: config.cluster.heartbeatMs,
      load: () => ({ rooms: this.hub.rooms.size, consumers: this.hub.consumerCount() }),
      workerCpuMs: async () => {
        const usage = await Promise.all(this.pool.workers.map((w) => w.worker.getResourceUsage()));
        return usage.reduce((ms, u) => ms + u.ru_utime + u.ru_stime, 0);
      },
      draining: () => this.#draining,
      onTaken: (roomIds) => roomIds.forEach((id) => this.hub.closeRoom(id, 'shutdown')),
      logger,
    });
    // Stopped before the rooms: the node leaves the registry (no room is placed here), then rooms release their leases.
    await this.heartbeat.start();
    this.#onStop('cluster heartbeat', () => this.heartbeat.stop());

    if (config.demo) this.demo = { key: randomBytes(9).toString('base64url') };
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
        // Draining: a load balancer sends nobody here any more (moving clients land on live nodes).
        cluster: async () => {
          if (this.#draining) throw new Error('draining');
          await this.heartbeat.check();
        },
        sfu: async () => {
          const { alive, total } = this.pool.health();
          if (alive === 0 || alive < total) throw new Error('workers down');
        },
      },
    }));
    const joinGrants = this.services.joinGrants!;
    // Signaling and the relay need each other: the relay hands relayed participants to signaling.
    const relay = (this.relay = new SignalRelay({
      bus: this.cluster,
      directory: this.directory,
      registry: this.registry,
      logger,
      accept: (connection, opening) => signaling.openRelayed(connection, opening),
      draining: () => this.#draining,
    }));
    const roomChat = new RoomChatService(this.db.db, this.services.messaging);
    const signaling = createSignalingService({
      router: relay,
      verify: this.services.verifyJoinToken,
      hub: this.hub,
      lifecycle,
      metrics: metrics.signaling,
      logger,
      resumeGraceMs: opts.resumeGraceMs,
      iceServersFor: (peerId) => iceServersFor(config.turn, peerId),
      grants: joinGrants,
      chat: roomChat,
      files: new RoomFilesService(
        roomChat,
        this.services.files.grants,
        this.services.files.admissions,
        (err) =>
          this.logger.warn({ err: { message: (err as Error)?.message } }, 'room file admission not ended'),
      ),
      maxSocketsPerIdentity: config.joinToken.maxSockets,
      joinDeadlineMs: config.joinToken.joinDeadlineMs,
    });
    this.#sessions = () => signaling.sessions.values();
    await relay.start(config.cluster.heartbeatMs);
    this.#onStop('signal relay', () => relay.stop());
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
    await this.#startUserSockets(opts);
    const userSockets = this.userSockets;
    type RoomContext = Extract<ReturnType<typeof signaling.authorize>, { ok: true }>['context'];
    type SocketContext =
      { tier: 'room'; room: RoomContext } | { tier: 'user'; user: Parameters<typeof userSockets.open>[1] };
    this.server = await startSocketServer<SocketContext>(
      config.socketServer,
      {
        host: config.host,
        port: config.port,
        paths: [SIGNALING_PATH, USER_SOCKET_PATH],
        maxPayloadBytes: MAX_SOCKET_PAYLOAD_BYTES,
        sharePort: config.portSharing,
        maxBackpressureBytes: 4 * 1024 * 1024,
        fetch: (request, env) => app.fetch(request, env),
        authorize: (request) => {
          if (request.path !== USER_SOCKET_PATH) {
            const room = signaling.authorize(request);
            return room.ok ? { ...room, context: { tier: 'room' as const, room: room.context } } : room;
          }
          const user = userSockets.authorize(request);
          return user.ok ? { ...user, context: { tier: 'user' as const, user: user.context } } : user;
        },
        open: (connection, context) =>
          context.tier === 'user'
            ? userSockets.open(connection, context.user)
            : signaling.open(connection, context.room),
      },
      logger,
    );
    this.#onStop('socket server', () => this.server.close('server_shutdown'));
  }

  async #startUserSockets(opts: NodeOptions) {
    const { service, stop } = await startUserSockets({
      db: this.db.db,
      identity: this.services.identity,
      messaging: this.services.messaging,
      livechat: this.services.livechat,
      cluster: this.cluster,
      logger: this.logger,
      maxPerUser: this.config.auth.userSocketMaxPerUser,
      lease: this.config.cluster,
      recheckMs: opts.userSocketRecheckMs ?? this.config.auth.userSocketRecheckSeconds * 1000,
    });
    this.userSockets = service;
    this.#onStop('user sockets', stop);
  }

  /**
   * SIGTERM of a node among others: its calls move to live nodes (drain.ts), then it stops. A lone
   * node (no Redis) has nowhere to move them and just stops.
   */
  async drainAndStop(): Promise<void> {
    if (this.bus?.kind === 'redis' && this.heartbeat && this.relay)
      await drainNode(
        {
          startDraining: () => (this.#draining = true),
          heartbeat: this.heartbeat,
          directory: this.directory,
          relay: this.relay,
          sessions: this.#sessions,
          logger: this.logger,
        },
        this.config.cluster.drainDeadlineMs,
      ).catch((err: Error) => this.logger.error({ err: err.message }, 'drain failed; stopping'));
    await this.stop();
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
