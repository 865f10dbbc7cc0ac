import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { DeferredInput } from '../api/validation.ts';
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

  /** The user's own profile; reading it is an audited event (a patient's profile is PHI). */
  async profile() {
    await this.#manage();
    const me = await this.deps.account.me(this.actor.userId);
    await this.deps.audit.record({
      action: 'user.self.read',
      outcome: 'allowed',
      resourceType: 'user',
      resourceId: this.actor.userId,
      patientId: me.role === 'patient' ? me.id : null,
    });
    return { ...me, clinicIds: this.actor.clinicIds };
  }

  /** Sets (or clears, with null) the zone reminders are shown in; answers with the profile. */
  async setTimeZone(input: DeferredInput<{ timeZone: string | null }>) {
    const { actor } = this;
    await this.deps.policy.require(actor, 'user.time_zone.set', this.#self());
    const body = await input();
    await this.deps.account.setTimeZone(actor.userId, body.timeZone);
    await this.deps.audit.record({
      action: 'user.profile.update',
      outcome: 'allowed',
      resourceType: 'user',
      resourceId: actor.userId,
      patientId: actor.role === 'patient' ? actor.userId : null,
    });
    const me = await this.deps.account.me(actor.userId);
    return { ...me, clinicIds: actor.clinicIds };
  }

  /** Changes the password from this session (the others are signed out); ip counts wrong guesses. */
  async changePassword(input: DeferredInput<{ currentPassword: string; newPassword: string }>, ip: string) {
    const { actor } = this;
    await this.#manage();
    const body = await input();
    await this.deps.account.changePassword(
      actor.userId,
      actor.sessionId,
      body.currentPassword,
      body.newPassword,
      ip,
    );
    await this.#recordSelf('user.password.change');
  }

  async setMfaMethod(input: DeferredInput<{ method: 'email' | 'sms' }>) {
    await this.#manage();
    const { method } = await input();
    await this.deps.account.setMfaMethod(this.actor.userId, method);
    return { method };
  }

  async beginTotp() {
    await this.#manage();
    return this.deps.account.beginTotp(this.actor.userId);
  }

  async confirmTotp(input: DeferredInput<{ code: string }>) {
    await this.#manage();
    const { code } = await input();
    await this.deps.account.confirmTotp(this.actor.userId, code);
    await this.#recordSelf('user.totp.enable');
    return { method: 'totp' as const };
  }

  async disableTotp() {
    await this.#manage();
    await this.deps.account.disableTotp(this.actor.userId);
    await this.#recordSelf('user.totp.disable');
  }

  async dependents() {
    await this.deps.policy.require(this.actor, 'dependent.list', this.#self());
    return this.deps.dependents.list(this.actor.userId);
  }

  /** A minor the user is guardian of, added to one of the user's clinics. */
  async addDependent(input: DeferredInput<{ displayName: string; dateOfBirth: string; clinicId: string }>) {
    await this.deps.policy.require(this.actor, 'dependent.create', this.#self());
    const body = await input();
    const dep = await this.deps.dependents.create(this.actor, body);
    await this.deps.audit.record({
      action: 'dependent.created',
      outcome: 'allowed',
      resourceType: 'patient',
      resourceId: dep.id,
      patientId: dep.id,
      clinicId: body.clinicId,
    });
    return dep;
  }

  #recordSelf(action: 'user.password.change' | 'user.totp.enable' | 'user.totp.disable') {
    return this.deps.audit.record({
      action,
      outcome: 'allowed',
      resourceType: 'user',
      resourceId: this.actor.userId,
    });
  }
}
