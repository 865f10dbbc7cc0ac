/**
 * Loads the shipped ICD-10-CM code list into the database: `npm run icd10:load` (same as
 * `npx tsx scripts/load-icd10.ts [--file <path>]`). Uses the server's configuration (DATABASE_URL,
 * else the PGlite directory; with PGlite stop the server first) and applies pending migrations as
 * the server would. Idempotent: running it again changes nothing. Exit codes: 0 loaded,
 * 1 configuration or database error, 2 bad arguments or a malformed data file.
 */
import { parseArgs } from 'node:util';
import { openDb } from '../db/client.ts';
import { ConfigError, loadConfig } from '../server/config.ts';
import { Icd10DataFileError, readCodeList } from '../server/records/icd10/codes-file.ts';
import { loadIcd10Codes } from '../server/records/icd10/loader.ts';

function fail(code: number, message: string): never {
  process.stderr.write(`load-icd10: ${message}\n`);
  process.exit(code);
}

let args;
try {
  args = parseArgs({ options: { file: { type: 'string' } }, strict: true }).values;
} catch (err) {
  fail(2, `${(err as Error).message}\nusage: load-icd10 [--file <code list>]`);
}
let list;
try {
  list = args.file ? readCodeList(args.file) : readCodeList();
} catch (err) {
  if (err instanceof Icd10DataFileError || (err as NodeJS.ErrnoException).code === 'ENOENT')
    fail(2, (err as Error).message);
  throw err;
}
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
try {
  const r = await loadIcd10Codes(handle.db, list);
  process.stdout.write(
    `${r.release}: ${r.inserted} inserted, ${r.updated} updated, ${r.unchanged} unchanged\n`,
  );
} finally {
  await handle.close();
}
