import type { Db } from '../../db/client.ts';
import { MembershipChanges } from './membership-changes.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { AuditQueries } from '../audit/audit-queries.ts';
import type { AuthConfig } from '../config.ts';
import type { NotificationProvider } from '../notifications/types.ts';
import { Policy } from '../policy/policy.ts';
import type { Actor } from '../policy/types.ts';
import { AccessTokens, loadAuthKeys, type AuthKeys } from './access-tokens.ts';
import { AccountService } from './account.ts';
import { ClinicAdministration } from './clinic-administration.ts';
import { ClinicService } from './clinic-service.ts';
import { DependentService } from './dependents.ts';
import { OwnAccounts } from './own-account.ts';
import { InvitationService } from './invitations.ts';
import { AttemptGuard } from './attempt-guard.ts';
import { KnownDevices } from './known-devices.ts';
import { SignInAdmission } from './sign-in-admission.ts';
import { LoginService } from './login.ts';
import { PasswordHasher } from './passwords.ts';
import { SecretSealer } from './secret-sealer.ts';
import { SessionService } from './sessions.ts';

export type Identity = Awaited<ReturnType<typeof createIdentity>>;

/**
 * The audit chain's HMAC key: AUDIT_CHAIN_KEY, so that rotating the token signing key need not
 * orphan the chain, else derived from that signing key. Every process appending must use the same.
 */
export const auditChainKey = (config: Pick<AuthConfig, 'auditChainKey'>, keys: AuthKeys) =>
  config.auditChainKey ?? keys.derive('audit-chain');

/** Wires identity, policy and audit together; the one place their implementations are chosen. */
export async function createIdentity(opts: {
  db: Db;
  config: AuthConfig;
  notifier: NotificationProvider;
  publicUrl: () => string;
}) {
  const { db, config, notifier } = opts;
  const keys = loadAuthKeys(config.privateKeyPem);
  const passwords = await PasswordHasher.create(config.passwordHashStrength, config.hashQueue);
  const tokens = new AccessTokens(keys, config.accessTokenTtlSeconds);
  const audit = new AuditLog(db, auditChainKey(config, keys));
  const policy = new Policy(db, audit);
  const sessions = new SessionService(db, tokens, config);
  const sealer = new SecretSealer(keys.derive('totp-seal'));
  const guard = new AttemptGuard(db, config, keys.derive('login-identifier'));
  const devices = new KnownDevices(db, config.knownDeviceTtlSeconds, keys.derive('device-cookie'));
  const login = new LoginService({
    db,
    config,
    passwords,
    guard,
    devices,
    sessions,
    notifier,
    audit,
    sealer,
    codeKey: keys.derive('otp'),
  });
  const account = new AccountService({ db, passwords, sealer, sessions, guard, devices });
  const memberships = new MembershipChanges();
  const dependents = new DependentService(db, memberships);
  const invitations = new InvitationService({
    memberships,
    db,
    audit,
    config,
    notifier,
    passwords,
    guard,
    publicUrl: opts.publicUrl,
  });
  const clinics = new ClinicService(db, memberships);
  return {
    config,
    keys,
    /** Whose memberships changed, after commit (chat's user sockets follow it). */
    memberships,
    ephemeralKey: keys.ephemeral,
    /** The audit chain key dies with the process too: entries of earlier runs will not verify. */
    ephemeralAuditKey: keys.ephemeral && !config.auditChainKey,
    passwords,
    tokens,
    audit,
    policy,
    /** Reading and verifying the audit log, decided per admin. */
    auditQueries: new AuditQueries({ policy, audit, checkpointKey: keys.publicKey }),
    sessions,
    login,
    guard,
    devices,
    admission: new SignInAdmission(config.signInConcurrency),
    notifier,
    account,
    invitations,
    clinics,
    /** Clinics, staff, patients, invitations and care relationships, decided per administrator. */
    clinicAdministration: new ClinicAdministration({ policy, audit, clinics, invitations }),
    dependents,
    /** One's own account (profile, password, second factor, sessions, dependents), decided per user. */
    ownAccounts: new OwnAccounts({ policy, audit, account, sessions, dependents }),
    /** A guardian acting for a dependent (X-On-Behalf-Of): itself a decision the policy makes and audits. */
    actOnBehalfOf: async (actor: Actor, dependentId: string) => {
      await policy.require(actor, 'patient.act_on_behalf', await policy.patient(dependentId));
    },
  };
}
