/**
 * Creates the first platform admin: `npx tsx scripts/create-admin.ts --email a@b.example --name "A B" [--force]`
 * (or `npm run admin:create -- ...`). Uses the server's configuration (DATABASE_URL, else the PGlite
 * directory) and applies pending migrations as the server would. Prints the initial password once,
 * on stdout only. Exit codes: 0 created, 1 configuration/database error, 2 bad arguments, 3 refused.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { openDb } from '../db/client.ts';
import { AuditLog } from '../server/audit/audit-log.ts';
import { ConfigError, loadConfig } from '../server/config.ts';
import { loadAuthKeys } from '../server/identity/access-tokens.ts';
import { BootstrapRefused, createPlatformAdmin } from '../server/identity/bootstrap-admin.ts';
import { auditChainKey } from '../server/identity/create-identity.ts';
import { PasswordHasher } from '../server/identity/passwords.ts';
import { displayNameSchema, emailSchema } from '../server/api/validation.ts';

const USAGE = 'usage: create-admin --email <address> --name "<display name>" [--force]\n';
function fail(code: number, message: string): never {
  process.stderr.write(`create-admin: ${message}\n`);
  process.exit(code);
}

let args;
try {
  args = parseArgs({
    options: {
      email: { type: 'string' },
      name: { type: 'string' },
      force: { type: 'boolean', default: false },
    },
    strict: true,
  }).values;
} catch (err) {
  fail(2, `${(err as Error).message}\n${USAGE}`);
}
const input = z.object({ email: emailSchema, name: displayNameSchema }).safeParse(args);
if (!input.success)
  fail(2, input.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ') + `\n${USAGE}`);
const { email, name } = input.data;

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  fail(1, err.issues.map((i) => `configuration error: ${i.variable}: ${i.message}`).join('\n'));
}

const handle = await openDb({
  databaseUrl: config.databaseUrl,
  pgliteDir: config.pgliteDir,
  maxConnections: 1,
  ...config.database,
});
let code = 0;
try {
  const passwords = await PasswordHasher.create(config.auth.passwordHashStrength);
  const created = await createPlatformAdmin(
    {
      db: handle.db,
      passwords,
      audit: new AuditLog(handle.db, auditChainKey(config.auth, loadAuthKeys(config.auth.privateKeyPem))),
    },
    { email, displayName: name, force: args.force ?? false },
  );
  process.stdout.write(
    `Created platform admin ${email} (id ${created.id}).\n` +
      `Initial password (shown only now; sign in with it and the e-mailed code, then change it):\n${created.password}\n`,
  );
} catch (err) {
  if (!(err instanceof BootstrapRefused)) throw err;
  process.stderr.write(`create-admin: refused: ${err.message}\n`);
  code = 3;
} finally {
  await handle.close();
}
process.exit(code);
