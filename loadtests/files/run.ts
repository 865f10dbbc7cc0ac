// Files benchmark: encrypted tus upload throughput on loopback (FILE_MB in PATCHes of CHUNK_MB
// through the real app: tus, content check, secretstream encryption, local-disk blob store,
// PostgreSQL), then the same file downloaded, and the server process's RSS growth during each,
// sampled from /proc every 50 ms; on each socket tier (node:http as the ws tier serves it, and the
// uWS bridge), one server process per tier. Prints JSON and a table.
// Usage: npm run loadtest:files     Env: FILE_MB (1024), CHUNK_MB (512; uWS refuses a
// Content-Length of 1e9 or more), WARMUP_MB (64), TIERS (ws,uws)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createInterface } from 'node:readline';

const FILE_MB = Number(process.env.FILE_MB ?? 1024);
const CHUNK_MB = Number(process.env.CHUNK_MB ?? 512);
const WARMUP_MB = Number(process.env.WARMUP_MB ?? 64);
const TIERS = (process.env.TIERS ?? 'ws,uws').split(',') as ('ws' | 'uws')[];
const TARGET_MB_PER_S = 150;
const TARGET_RSS_GROWTH_MB = 64;
const MiB = 1024 * 1024;
const round = (x: number) => Math.round(x * 10) / 10;

// One random MiB sent over and over (views, no copies): the client costs little next to the server.
const block = randomBytes(MiB);
Buffer.from('%PDF-1.7\n').copy(block);

async function startServer(tier: 'ws' | 'uws') {
  const child = spawn(process.execPath, ['--import', 'tsx', 'loadtests/files/server.ts'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, TIER: tier },
  });
  const first = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout! }).once('line', resolve),
  );
  const info = JSON.parse(first) as { base: string; token: string; room: string };
  const rssMb = () =>
    Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024;
  return { ...info, rssMb, stop: () => child.stdin!.end() };
}
type Server = Awaited<ReturnType<typeof startServer>>;

function patch(s: Server, url: URL, offset: number, bytes: number) {
  return new Promise<void>((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'PATCH',
        headers: {
          authorization: `Bearer ${s.token}`,
          'tus-resumable': '1.0.0',
          'upload-offset': String(offset),
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
}

/** Uploads `bytes` in PATCHes of CHUNK_MB; the file id and the seconds the PATCHes took. */
async function upload(s: Server, bytes: number): Promise<{ id: string; seconds: number }> {
  const created = await fetch(`${s.base}/api/files/uploads`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${s.token}`,
      'tus-resumable': '1.0.0',
      'upload-length': String(bytes),
      'upload-metadata': `conversationId ${Buffer.from(s.room).toString('base64')},filename ${Buffer.from('bench.pdf').toString('base64')},filetype ${Buffer.from('application/pdf').toString('base64')}`,
    },
  });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}`);
  const url = new URL(created.headers.get('location')!, s.base);
  const started = performance.now();
  for (let offset = 0; offset < bytes; offset += CHUNK_MB * MiB)
    await patch(s, url, offset, Math.min(CHUNK_MB * MiB, bytes - offset));
  return { id: url.pathname.split('/').pop()!, seconds: (performance.now() - started) / 1000 };
}

async function download(s: Server, id: string): Promise<number> {
  const link = (await fetch(`${s.base}/api/files/${id}/link`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.token}` },
  }).then((r) => r.json())) as { url: string };
  const started = performance.now();
  const res = await fetch(`${s.base}${link.url}`);
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) size += chunk.byteLength;
  if (size !== FILE_MB * MiB) throw new Error(`download: ${size} bytes`);
  return (performance.now() - started) / 1000;
}

/** Runs `work` while sampling the server's RSS; the peak growth over the RSS before. */
async function sampled<T>(s: Server, work: () => Promise<T>) {
  const before = s.rssMb();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, s.rssMb())), 50);
  try {
    return { out: await work(), before, growth: peak - before };
  } finally {
    clearInterval(sampler);
  }
}

const tiers = [];
for (const tier of TIERS) {
  const s = await startServer(tier);
  try {
    await upload(s, WARMUP_MB * MiB);
    await new Promise((r) => setTimeout(r, 500));
    const up = await sampled(s, () => upload(s, FILE_MB * MiB));
    const down = await sampled(s, () => download(s, up.out.id));
    tiers.push({
      tier,
      fileMb: FILE_MB,
      chunkMb: CHUNK_MB,
      uploadSeconds: round(up.out.seconds),
      uploadMbPerSecond: round(FILE_MB / up.out.seconds),
      downloadMbPerSecond: round(FILE_MB / down.out),
      serverRssBeforeMb: round(up.before),
      uploadRssGrowthMb: round(up.growth),
      downloadRssGrowthMb: round(down.growth),
    });
  } finally {
    s.stop();
  }
}

const result = {
  tiers,
  targets: { uploadMbPerSecond: TARGET_MB_PER_S, serverRssGrowthMb: TARGET_RSS_GROWTH_MB },
  pass: tiers.every(
    (t) =>
      t.uploadMbPerSecond >= TARGET_MB_PER_S &&
      t.uploadRssGrowthMb <= TARGET_RSS_GROWTH_MB &&
      t.downloadRssGrowthMb <= TARGET_RSS_GROWTH_MB,
  ),
};
console.log(JSON.stringify(result));
console.log(`
| tier | upload MB/s (target >= ${TARGET_MB_PER_S}) | download MB/s | RSS growth up / down, MB (target <= ${TARGET_RSS_GROWTH_MB}) |
| ---- | ---- | ---- | ---- |`);
for (const t of tiers)
  console.log(
    `| ${t.tier} | ${t.uploadMbPerSecond} | ${t.downloadMbPerSecond} | ${t.uploadRssGrowthMb} / ${t.downloadRssGrowthMb} |`,
  );
