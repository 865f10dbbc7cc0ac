import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { users } from '../../db/schema/index.ts';
import { signIn, startIdentityHarness, type IdentityHarness } from '../../test/helpers/identity.ts';

const SCRIPT = new URL('../../scripts/create-admin.ts', import.meta.url).pathname;

/** Runs the real command as an operator would, with only the environment given here. */
async function run(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const [status] = await once(child, 'exit');
  return { status: status as number, stdout, stderr };
}

/** scripts/create-admin.ts against a real PostgreSQL database; the created account then signs in. */
describe('create-admin command', () => {
  let h: IdentityHarness;
  let env: Record<string, string>;
  const adminsIn = async () =>
    (await h.db.select({ email: users.email }).from(users).where(eq(users.role, 'admin')))
      .map((u) => u.email)
      .sort();

  beforeAll(async () => {
    h = await startIdentityHarness();
    env = { NODE_ENV: 'test', PASSWORD_HASH_STRENGTH: 'minimum', DATABASE_URL: h.databaseUrl, DEMO: 'off' };
  });
  afterAll(() => h.close());

  it('creates the first platform admin, who signs in with the printed password and creates a clinic', async () => {
    const r = await run(['--email', 'Root@Example.test', '--name', 'First Admin'], env);
    expect([r.status, r.stderr]).toEqual([0, '']);
    const password = r.stdout.trim().split('\n').at(-1)!;
    expect(password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [row] = await h.db.select().from(users).where(eq(users.email, 'root@example.test'));
    expect(row).toMatchObject({ role: 'admin', displayName: 'First Admin', mfaMethod: 'email' });
    expect(row!.passwordHash).not.toContain(password);
    const session = await signIn(h.call, h.db, 'root@example.test', password);
    const create = () =>
      h.call('POST', '/api/clinics', {
        token: session.accessToken,
        body: { name: 'Bootstrapped clinic', adminEmail: 'boss@example.test' },
      });
    // The one-time password must be replaced before anything else.
    const early = await create();
    expect([early.status, early.body.code]).toEqual([403, 'password_change_required']);
    expect((await h.call('GET', '/api/me', { token: session.accessToken })).status).toBe(200);
    const changed = await h.call('POST', '/api/me/password', {
      token: session.accessToken,
      body: { currentPassword: password, newPassword: 'a much better passphrase 2026' },
    });
    expect(changed.status).toBeLessThan(300);
    expect((await create()).status).toBe(201);
    const audit = await h.identity.audit.query({ action: 'admin.bootstrapped', limit: 10 });
    expect(audit.map((e) => [e.resourceId, e.actorId])).toEqual([[row!.id, null]]);
  });

  it('refuses a second admin unless forced, and never reuses an e-mail', async () => {
    const again = await run(['--email', 'second@example.test', '--name', 'Second'], env);
    expect([again.status, again.stdout]).toEqual([3, '']);
    expect(again.stderr).toContain('already exists');
    expect(await adminsIn()).toEqual(['root@example.test']);
    const taken = await run(['--email', 'root@example.test', '--name', 'Dup', '--force'], env);
    expect(taken.status).toBe(3);
    expect(taken.stderr).toContain('e-mail already exists');
    const forced = await run(['--email', 'second@example.test', '--name', 'Second', '--force'], env);
    expect(forced.status).toBe(0);
    expect(await adminsIn()).toEqual(['root@example.test', 'second@example.test']);
  });

  it('bad arguments exit 2 naming the option; bad configuration exits 1 naming the variable', async () => {
    const missing = await run(['--name', 'No Mail'], env);
    expect([missing.status, missing.stderr]).toEqual([2, expect.stringContaining('--email')]);
    const bad = await run(['--email', 'not-an-address', '--name', ''], env);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--email: must be an e-mail address');
    expect(bad.stderr).toContain('--name: required');
    expect((await run(['--email', 'x@example.test', '--name', 'X', '--role', 'doctor'], env)).status).toBe(2);
    const config = await run(['--email', 'x@example.test', '--name', 'X'], {
      ...env,
      NODE_ENV: 'development',
    });
    expect([config.status, config.stderr]).toEqual([
      1,
      expect.stringContaining('configuration error: PASSWORD_HASH_STRENGTH'),
    ]);
    expect(await adminsIn()).toEqual(['root@example.test', 'second@example.test']);
  });
});
