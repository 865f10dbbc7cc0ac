import type { Db, Tx } from '../../db/client.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import type { Action, ResourceFor } from '../policy/actions.ts';
import type { Policy } from '../policy/policy.ts';
import type { Actor } from '../policy/types.ts';
import { fhirNotFound } from './operation-outcome.ts';

export type AccessDeps = { db: Db; policy: Policy; audit: AuditLog };

/**
 * How FHIR providers reach PHI: the policy decides (a refusal audited by it), the read and its
 * audit entries commit in ONE transaction, and a read that cannot be audited returns nothing.
 * A refused read is the 404 an unknown id gets, whatever the policy would say elsewhere: an EHR
 * probing ids learns nothing from the difference.
 */
export class RecordAccess {
  constructor(readonly deps: AccessDeps) {}

  async decide<A extends Action>(
    actor: Actor,
    action: A,
    resource: ResourceFor<A>,
    fhirType: string,
  ): Promise<AuditEntry[]> {
    try {
      const { entry } = await this.deps.policy.requireDeferred(actor, action, resource);
      return entry ? [entry] : [];
    } catch (err) {
      if (err instanceof ProblemError && (err.code === PROBLEM.forbidden || err.code === PROBLEM.notFound))
        throw fhirNotFound(fhirType);
      throw err;
    }
  }

  /** A search row: its audit entry when allowed, undefined when the search leaves it out. */
  row<A extends Action>(actor: Actor, action: A, resource: ResourceFor<A>): AuditEntry[] | undefined {
    const decided = this.deps.policy.decideRow(actor, action, resource);
    if (!decided) return undefined;
    return decided.entry ? [decided.entry] : [];
  }

  /** The read, then its entries, in one transaction (entries last: the chain's lock is held briefly). */
  audited<T>(work: (tx: Tx) => Promise<{ result: T; entries: AuditEntry[] }>): Promise<T> {
    return this.deps.db.transaction(async (tx) => {
      const { result, entries } = await work(tx);
      await this.deps.audit.appendWithin(tx, entries);
      return result;
    });
  }
}
