// Files benchmark: encrypted tus upload throughput on loopback (one PATCH of FILE_MB through the
// real app: tus, content check, secretstream encryption, local-disk blob store, PostgreSQL) and the
// server process's RSS growth during it, sampled from /proc every 50 ms. Prints JSON and a table.
// Usage: npm run loadtest:files     Env: FILE_MB (1024), WARMUP_MB (64)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createInterface } from 'node:readline';

const FILE_MB = Number(process.env.FILE_MB ?? 1024);
const WARMUP_MB = Number(process.env.WARMUP_MB ?? 64);
const TARGET_MB_PER_S = 150;
const TARGET_RSS_GROWTH_MB = 64;
const MiB = 1024 * 1024;
const round = (x: number) => Math.round(x * 10) / 10;

const child = spawn(process.execPath, ['--import', 'tsx', 'loadtests/files/server.ts'], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const first = await new Promise<string>((resolve) =>
  createInterface({ input: child.stdout! }).once('line', resolve),
);
const { base, token, room } = JSON.parse(first) as { base: string; token: string; room: string };
const rssMb = () =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024;

// One random MiB sent over and over (views, no copies): the client costs little next to the server.
const block = randomBytes(MiB);
Buffer.from('%PDF-1.7\n').copy(block);

async function upload(bytes: number): Promise<number> {
  const created = await fetch(`${base}/api/files/uploads`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'tus-resumable': '1.0.0',
      'upload-length': String(bytes),
      'upload-metadata': `conversationId ${Buffer.from(room).toString('base64')},filename ${Buffer.from('bench.pdf').toString('base64')},filetype ${Buffer.from('application/pdf').toString('base64')}`,
    },
  });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}`);
  const url = new URL(created.headers.get('location')!, base);
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'PATCH',
        headers: {
          authorization: `Bearer ${token}`,
          'tus-resumable': '1.0.0',
          'upload-offset': '0',
          'content-type': 'application/offset+octet-stream',
          'content-length': String(bytes),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 204 ? resolve() : reject(new Error(`patch: ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        const n = Math.min(MiB, bytes - sent);
        sent += n;
        if (!req.write(block.subarray(0, n))) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  return (performance.now() - started) / 1000;
}

await upload(WARMUP_MB * MiB);
await new Promise((r) => setTimeout(r, 500));
const rssBefore = rssMb();
let rssPeak = rssBefore;
const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMb())), 50);
const seconds = await upload(FILE_MB * MiB);
clearInterval(sampler);
child.stdin!.end();

const result = {
  fileMb: FILE_MB,
  seconds: round(seconds),
  uploadMbPerSecond: round(FILE_MB / seconds),
  serverRssBeforeMb: round(rssBefore),
  serverRssPeakMb: round(rssPeak),
  serverRssGrowthMb: round(rssPeak - rssBefore),
  targets: { uploadMbPerSecond: TARGET_MB_PER_S, serverRssGrowthMb: TARGET_RSS_GROWTH_MB },
  pass: FILE_MB / seconds >= TARGET_MB_PER_S && rssPeak - rssBefore <= TARGET_RSS_GROWTH_MB,
};
console.log(JSON.stringify(result));
console.log(`
| measure                         | value | target |
| ------------------------------- | ----- | ------ |
| encrypted upload, MB/s (loopback) | ${result.uploadMbPerSecond} | >= ${TARGET_MB_PER_S} |
| server RSS growth, MB           | ${result.serverRssGrowthMb} | <= ${TARGET_RSS_GROWTH_MB} |
| ${FILE_MB} MB in s              | ${result.seconds} | |`);
