import { sign, verify, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditCheckpoint, AuditLog } from './audit-log.ts';

export type SignedCheckpoint = AuditCheckpoint & { signature: string };

const signedText = (cp: AuditCheckpoint) => Buffer.from(`carecall-audit-checkpoint:${cp.seq}:${cp.hash}`);

export function signCheckpoint(cp: AuditCheckpoint, privateKey: KeyObject): SignedCheckpoint {
  return { ...cp, signature: sign(null, signedText(cp), privateKey).toString('base64url') };
}

export function checkpointSignatureValid(cp: SignedCheckpoint, publicKey: KeyObject): boolean {
  try {
    return verify(null, signedText(cp), publicKey, Buffer.from(cp.signature, 'base64url'));
  } catch {
    return false;
  }
}

/**
 * Anchors the audit chain outside the database: every `intervalMs`, if the chain grew, the head
 * (seq + hash), signed with the node's Ed25519 key, goes to the log, which production ships to a
 * separate system. Someone able to rewrite the database cannot reach those lines, so deleting the
 * newest entries, which the chain alone cannot reveal, shows up when verify() is given the last
 * logged checkpoint (GET /api/audit/verify?seq=&hash=&signature=).
 */
export class AuditCheckpointer {
  #timer: NodeJS.Timeout | undefined;
  #last: AuditCheckpoint | null = null;
  #running: Promise<void> = Promise.resolve();

  constructor(
    private readonly audit: AuditLog,
    private readonly privateKey: KeyObject,
    private readonly logger: Logger,
  ) {}

  start(intervalMs: number) {
    this.#timer = setInterval(() => void this.tick(), intervalMs);
    this.#timer.unref();
  }

  /** Logs a signed checkpoint if the head moved since the last one; returns it (or null). */
  tick(): Promise<SignedCheckpoint | null> {
    const run = this.#running.then(async () => {
      const head = await this.audit.head();
      if (!head || (this.#last && this.#last.seq === head.seq && this.#last.hash === head.hash)) return null;
      this.#last = head;
      const signed = signCheckpoint(head, this.privateKey);
      this.logger.info({ auditCheckpoint: signed }, 'audit checkpoint');
      return signed;
    });
    this.#running = run.then(
      () => undefined,
      (err) => this.logger.warn({ err: (err as Error).message }, 'audit checkpoint failed'),
    );
    return run;
  }

  /** Stops the timer and writes a last checkpoint, so a clean shutdown leaves the final head in the log. */
  async stop() {
    clearInterval(this.#timer);
    await this.tick().catch(() => null);
  }
}
