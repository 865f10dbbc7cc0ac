import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { NodeRegistry, NodeState } from './node-registry.ts';
import type { RoomDirectory } from './room-directory.ts';

export type NodeLoad = Pick<NodeState, 'rooms' | 'consumers'>;

export type HeartbeatOptions = {
  directory: RoomDirectory;
  registry: NodeRegistry;
  intervalMs: number;
  load: () => NodeLoad;
  /** CPU time (ms) of the media worker processes so far; the node's own comes from process.cpuUsage. */
  workerCpuMs: () => Promise<number>;
  draining: () => boolean;
  /** Rooms another node owns now (this node lost their leases): stop hosting them. */
  onTaken: (roomIds: string[]) => void;
  logger: Logger;
};

/**
 * Every beat renews this node's room leases and announces its load. Readiness follows it: a node
 * whose beats fail (Redis away) keeps its calls but is not ready for new ones.
 */
export class ClusterHeartbeat {
  #timer: NodeJS.Timeout | undefined;
  #lastOk = 0;
  #lastError: string | undefined;
  #running: Promise<void> | undefined;
  #cpu = { at: performance.now(), ms: 0 };
  #cpuShare = 0;

  constructor(private readonly opts: HeartbeatOptions) {}

  async start() {
    await this.beat();
    this.#timer = setInterval(() => void this.beat(), this.opts.intervalMs);
    this.#timer.unref();
  }

  /** One beat (a beat still running is awaited rather than doubled). */
  beat(): Promise<void> {
    this.#running ??= this.#beat().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #beat() {
    const { directory, registry, logger } = this.opts;
    try {
      const taken = await directory.renew();
      if (taken.length) {
        logger.error({ rooms: taken }, 'room leases lost to another node: rooms closed here');
        this.opts.onTaken(taken);
      }
      await this.#measureCpu();
      await registry.announce({
        nodeId: directory.nodeId,
        ...this.opts.load(),
        cpu: this.#cpuShare,
        draining: this.opts.draining(),
        at: Date.now(),
      });
      this.#lastOk = Date.now();
      this.#lastError = undefined;
    } catch (err) {
      if (this.#lastError === undefined)
        logger.warn({ err: (err as Error).message }, 'cluster heartbeat failed');
      this.#lastError = (err as Error).message;
    }
  }

  async #measureCpu() {
    const { user, system } = process.cpuUsage();
    const ms = (user + system) / 1000 + (await this.opts.workerCpuMs().catch(() => 0));
    const at = performance.now();
    const elapsed = at - this.#cpu.at;
    if (elapsed > 0 && this.#cpu.ms > 0)
      this.#cpuShare = Math.max(0, (ms - this.#cpu.ms) / elapsed / availableParallelism());
    this.#cpu = { at, ms };
  }

  /** For /readyz: throws unless a beat (lease renewal and announcement) succeeded recently. */
  async check(): Promise<void> {
    const staleMs = Date.now() - this.#lastOk;
    if (staleMs > 3 * this.opts.intervalMs)
      throw new Error(`no lease renewal for ${staleMs} ms${this.#lastError ? `: ${this.#lastError}` : ''}`);
  }

  async stop() {
    clearInterval(this.#timer);
    await this.#running;
    await this.opts.registry.leave(this.opts.directory.nodeId);
  }
}
