import type { KeyObject } from 'node:crypto';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { Policy } from '../policy/policy.ts';
import type { Actor } from '../policy/types.ts';
import type { AuditLog, AuditQuery } from './audit-log.ts';
import { checkpointSignatureValid } from './checkpoints.ts';

type Deps = { policy: Policy; audit: AuditLog; checkpointKey: KeyObject };

/** Reading the audit log, bound to one admin: the policy decides how much of it they may see. */
export class AuditQueries {
  constructor(private readonly deps: Deps) {}

  forActor(actor: Actor): AuditReader {
    return new AuditReader(this.deps, actor);
  }
}

export class AuditReader {
  constructor(
    private readonly deps: Deps,
    readonly actor: Actor,
  ) {}

  /** Platform admins read all of it; a clinic filter is what clinic admins may ask for. */
  async entries(q: AuditQuery) {
    const { policy, audit } = this.deps;
    if (q.clinicId) await policy.require(this.actor, 'audit.query', { type: 'clinic', clinicId: q.clinicId });
    else await policy.require(this.actor, 'audit.query_all', { type: 'platform' });
    const entries = await audit.query(q);
    const next = entries.length === q.limit ? entries[entries.length - 1]!.seq : null;
    return { entries, next };
  }

  /**
   * Verifies the chain, from the start or from a checkpoint. An unsigned checkpoint is trusted as
   * given; a signed one must carry this deployment's signature, or a forged one could vouch for a
   * rewritten log.
   */
  async verify(checkpoint?: { seq: number; hash: string; signature?: string | undefined }) {
    await this.deps.policy.require(this.actor, 'audit.verify', { type: 'platform' });
    if (!checkpoint) return this.deps.audit.verify();
    const signed = { seq: checkpoint.seq, hash: checkpoint.hash, signature: checkpoint.signature ?? '' };
    if (checkpoint.signature !== undefined && !checkpointSignatureValid(signed, this.deps.checkpointKey)) {
      throw new ProblemError(400, PROBLEM.invalidRequest, 'request is invalid', [
        { field: 'signature', message: 'not a checkpoint signed by this deployment' },
      ]);
    }
    return this.deps.audit.verify({ checkpoint: signed });
  }
}
