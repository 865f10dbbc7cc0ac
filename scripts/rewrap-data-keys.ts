/**
 * Re-wraps every data key under the current KEK version (DATA_KEK / DATA_KEK_VERSION), reading the
 * old ones with DATA_KEK_PREVIOUS: `npm run keys:rewrap [-- --batch-size 500] [--status]`. Online
 * with PostgreSQL (nodes keep serving; each batch is one short transaction); with PGlite stop the
 * server first (PGlite is single-process). Prints JSON on stdout: key counts per KEK version before
 * and after, and any key that could not be unwrapped (ids only). Exit codes: 0 every key is under
 * the current version, 1 configuration or database error, 2 bad arguments, 4 keys remain under
 * another version (their KEK is missing or wrong: see `failed`).
 */
import { parseArgs } from 'node:util';
import { openDb } from '../db/client.ts';
import { ConfigError, loadConfig } from '../server/config.ts';
import { DataKeyStore, DEFAULT_REWRAP_BATCH } from '../server/crypto/data-key-store.ts';
import { kekRingFromConfig } from '../server/crypto/kek-ring.ts';

const USAGE = 'usage: rewrap-data-keys [--batch-size <1-10000>] [--status]\n';
function fail(code: number, message: string): never {
  process.stderr.write(`rewrap-data-keys: ${message}\n`);
  process.exit(code);
}

let args;
try {
  args = parseArgs({
    options: { 'batch-size': { type: 'string' }, status: { type: 'boolean', default: false } },
    strict: true,
  }).values;
} catch (err) {
  fail(2, `${(err as Error).message}\n${USAGE}`);
}
const batchSize = args['batch-size'] === undefined ? DEFAULT_REWRAP_BATCH : Number(args['batch-size']);
if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
  fail(2, `--batch-size must be an integer from 1 to 10000\n${USAGE}`);

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  fail(1, err.issues.map((i) => `configuration error: ${i.variable}: ${i.message}`).join('\n'));
}
// A per-process KEK would re-wrap every key under a key that is gone when this command exits.
if (!config.dataEncryption.kek)
  fail(1, 'DATA_KEK is not set: refusing to re-wrap data keys under a per-process key');

const handle = await openDb({
  databaseUrl: config.databaseUrl,
  pgliteDir: config.pgliteDir,
  maxConnections: 2,
  ...config.database,
});
let code = 0;
try {
  const keys = new DataKeyStore(handle.db, await kekRingFromConfig(config.dataEncryption, () => {}), {
    cacheSize: 1,
  });
  const current = config.dataEncryption.kek.version;
  const before = await keys.countByKekVersion();
  if (args.status) {
    process.stdout.write(`${JSON.stringify({ currentKekVersion: current, keysByKekVersion: before })}\n`);
    code = before.some((v) => v.kekVersion !== current) ? 4 : 0;
  } else {
    const result = await keys.rewrapAll({
      batchSize,
      onBatch: (done) => process.stderr.write(`rewrap-data-keys: ${done} re-wrapped\n`),
    });
    const after = await keys.countByKekVersion();
    process.stdout.write(
      `${JSON.stringify({ currentKekVersion: current, before, after, rewrapped: result.rewrapped, remaining: result.remaining, failed: result.failed })}\n`,
    );
    code = result.remaining > 0 ? 4 : 0;
  }
} finally {
  await handle.close();
}
process.exit(code);
