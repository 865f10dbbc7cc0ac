import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Policy } from '../policy/policy.ts';
import type { Actor } from '../policy/types.ts';
import type { AccountService } from './account.ts';
import type { DependentService } from './dependents.ts';
import type { SessionService } from './sessions.ts';

type Deps = {
  policy: Policy;
  audit: AuditLog;
  account: AccountService;
  sessions: SessionService;
  dependents: DependentService;
};

/** One's own account, bound to the signed-in user: each operation decides, acts and audits. */
export class OwnAccounts {
  constructor(private readonly deps: Deps) {}

  forActor(actor: Actor): OwnAccount {
    return new OwnAccount(this.deps, actor);
  }
}

export class OwnAccount {
  constructor(
    private readonly deps: Deps,
    readonly actor: Actor,
  ) {}

  #self() {
    return { type: 'user' as const, userId: this.actor.userId };
  }

  #manage() {
    return this.deps.policy.require(this.actor, 'user.self.manage', this.#self());
  }

  /** The user's sessions, the current one and the still active ones marked. */
  async sessions() {
    await this.#manage();
    const rows = await this.deps.sessions.list(this.actor.userId);
    return rows.map((s) => ({
      ...s,
      current: s.id === this.actor.sessionId,
      active: !s.revokedAt && s.expiresAt > new Date(),
    }));
  }

  /** Signs out one of the user's own sessions; someone else's is answered as unknown. */
  async revokeSession(sessionId: string) {
    await this.#manage();
    const mine = await this.deps.sessions.list(this.actor.userId);
    if (!mine.some((s) => s.id === sessionId))
      throw new ProblemError(404, PROBLEM.notFound, 'no such session');
    await this.deps.sessions.revoke(sessionId, 'revoked_by_user');
  }
}
