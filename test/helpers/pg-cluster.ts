import { execFile } from 'node:child_process';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { TEST_PG_BIN_DIR } from './env.ts';
import { freePort } from './ports.ts';

const run = promisify(execFile);

export type StopMode = 'smart' | 'fast' | 'immediate';

/**
 * A PostgreSQL cluster of a test's own (initdb in a temp folder, its own port and socket folder),
 * so a test can stop and start the server without disturbing the shared one other tests use.
 * initdb and the server refuse to run as root: as root, every command runs as the `postgres` user
 * (runuser), which then owns the folder.
 */
export class PgCluster {
  #running = false;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly asUser: { name: string; uid: number; gid: number } | undefined,
  ) {}

  get dataDir() {
    return join(this.dir, 'data');
  }

  get running() {
    return this.#running;
  }

  /** Admin URL (trust authentication, user postgres) for a database of this cluster. */
  url(database = 'postgres') {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** initdb and start. fsync is off: the test stops the server, not the machine, so the OS keeps every write. */
  static async create(settings: Record<string, string | number> = {}): Promise<PgCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'carecall-pg-'));
    const asUser = process.getuid?.() === 0 ? await postgresUser() : undefined;
    if (asUser) await chown(dir, asUser.uid, asUser.gid);
    const cluster = new PgCluster(dir, await freePort(), asUser);
    try {
      await cluster.#exec('initdb', [
        '-D',
        cluster.dataDir,
        '-A',
        'trust',
        '-U',
        'postgres',
        '-E',
        'UTF8',
        '--locale=C',
        '--no-sync',
      ]);
      const conf = {
        listen_addresses: "'127.0.0.1'",
        port: cluster.port,
        unix_socket_directories: `'${dir}'`,
        fsync: 'off',
        full_page_writes: 'off',
        max_connections: 100,
        shared_buffers: "'32MB'",
        ...settings,
      };
      const file = join(cluster.dataDir, 'postgresql.conf');
      const lines = Object.entries(conf).map(([k, v]) => `${k} = ${v}`);
      await writeFile(file, `${await readFile(file, 'utf8')}\n${lines.join('\n')}\n`);
      await cluster.start();
      return cluster;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async start() {
    await this.#exec('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      join(this.dir, 'server.log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
    this.#running = true;
  }

  /** `fast` ends every session with 57P01 and checkpoints; `immediate` kills them (crash recovery on next start). */
  async stop(mode: StopMode = 'fast') {
    this.#running = false;
    await this.#exec('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  async createDatabase(name: string) {
    const admin = postgres(this.url(), { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`create database ${name}`);
    } finally {
      await admin.end();
    }
    return this.url(name);
  }

  /** The server's log (useful in a failure message). */
  log() {
    return readFile(join(this.dir, 'server.log'), 'utf8').catch(() => '');
  }

  async destroy() {
    try {
      await this.stop('immediate');
    } catch {
      // already stopped
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  async #exec(tool: string, args: string[]) {
    const bin = join(TEST_PG_BIN_DIR, tool);
    const [file, argv] = this.asUser
      ? ['runuser', ['-u', this.asUser.name, '--', bin, ...args]]
      : [bin, args];
    try {
      return await run(file, argv, { cwd: this.dir, timeout: 90_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${tool} ${args.at(-1)} failed: ${e.stderr?.trim() || e.message}`);
    }
  }
}

async function postgresUser() {
  const id = async (flag: string) => Number((await run('id', [flag, 'postgres'])).stdout.trim());
  try {
    return { name: 'postgres', uid: await id('-u'), gid: await id('-g') };
  } catch {
    throw new Error(
      'running as root needs a `postgres` system user to own the test cluster (initdb refuses root)',
    );
  }
}
