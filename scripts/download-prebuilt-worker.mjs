// mediasoup's own prebuilt worker, where the network allows it (same URL its postinstall uses).
// Exits non-zero quickly when unreachable so setup falls back to building from Debian libraries.
import { spawn } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, existsSync } from 'node:fs';
import { tmpdir, platform, arch } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

const [version, out] = process.argv.slice(2);
const base =
  process.env.MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL ??
  'https://github.com/versatica/mediasoup/releases/download';
const url = `${base}/${version}/mediasoup-worker-${version}-${platform()}-${arch()}.tgz`;

const res = await fetch(url, { signal: AbortSignal.timeout(20_000) });
if (!res.ok || !res.body) process.exit(2);
const dir = mkdtempSync(join(tmpdir(), 'ms-prebuilt-'));
const tar = spawn('tar', ['xz', '-C', dir], { stdio: ['pipe', 'inherit', 'inherit'] });
Readable.fromWeb(res.body).pipe(tar.stdin);
const code = await new Promise((resolve) => tar.on('close', resolve));
const bin = join(dir, 'mediasoup-worker');
if (code !== 0 || !existsSync(bin)) process.exit(3);
renameSync(bin, out);
rmSync(dir, { recursive: true, force: true });
