import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CDPSession, ElementHandle, Page } from 'puppeteer-core';
import { launchChromium, openWindow, waitForProbe } from '../test/helpers/browser.ts';
import { TEST_REDIS_URL } from '../test/helpers/env.ts';
import { codeIn, lastMessage, PASSWORD, type IdentityHarness } from '../test/helpers/identity.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { createTestDatabase } from '../test/helpers/pg.ts';
import { booking, schedulingClinic, type SchedulingClinic } from '../test/helpers/scheduling.ts';

// Files in the room's chat as a doctor and a patient meet them in a real consultation.
const slot = '2027-03-03T10:00:00Z';
const clock = { now: new Date(Date.parse(slot) - 5 * 60_000) };
let pg: Awaited<ReturnType<typeof createTestDatabase>>;
let n: Awaited<ReturnType<typeof startTestNode>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let c: SchedulingClinic;
const pages: Page[] = [];
const dir = mkdtempSync(join(tmpdir(), 'carecall-chat-files-'));
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** What the call left behind for the threads page to find. */
const room: { pdf?: Buffer } = {};

async function axe(page: Page) {
  await page.evaluate(AXE_SOURCE);
  const found = (await page.evaluate(async () => {
    const run = (
      window as unknown as {
        axe: { run: (d: Document, o: object) => Promise<{ violations: { id: string; impact: string }[] }> };
      }
    ).axe.run;
    return (await run(document, { resultTypes: ['violations'] })).violations.map((v) => ({
      id: v.id,
      impact: v.impact,
    }));
  })) as { id: string; impact: string }[];
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

async function call(method: string, path: string, opts: { token?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await n.node.app.request(
    path,
    { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) },
    { remoteAddress: '203.0.113.7' },
  );
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : text };
}

beforeAll(async () => {
  pg = await createTestDatabase();
  n = await startTestNode(
    {
      PASSWORD_HASH_STRENGTH: 'minimum',
      LOGIN_RATE_LIMIT_PER_MINUTE: '10000',
      JOIN_TOKEN_PRIVATE_KEY: generateKeyPairSync('ed25519')
        .privateKey.export({ format: 'pem', type: 'pkcs8' })
        .toString(),
      DATABASE_URL: pg.url,
      REDIS_URL: TEST_REDIS_URL,
      BLOB_STORE_DIR: join(dir, 'blobs'),
    },
    { busPrefix: `test:${randomBytes(4).toString('hex')}:`, now: () => clock.now },
  );
  c = await schedulingClinic({
    db: n.node.db.db,
    identity: n.node.identity,
    call,
  } as unknown as IdentityHarness);
  chromium = await launchChromium();
});
afterAll(async () => {
  await Promise.all(pages.map((p) => p.close().catch(() => undefined)));
  await chromium?.close();
  await n?.node.stop();
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function open(joinToken: string) {
  const page = await openWindow(chromium.browser);
  pages.push(page);
  await page.setViewport({ width: 1280, height: 720 });
  await page.goto(`${n.baseUrl}/app/#token=${joinToken}`);
  return page;
}

/** Drops files from disk onto an element, as a person dragging them from the file manager does (CDP drag events). */
async function dropFiles(page: Page, selector: string, paths: string[]) {
  const box = (await (await page.$(selector))!.boundingBox())!;
  const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const session: CDPSession = await page.createCDPSession();
  const data = { items: [], files: paths, dragOperationsMask: 1 };
  for (const type of ['dragEnter', 'dragOver', 'drop'] as const)
    await session.send('Input.dispatchDragEvent', { type, ...at, data });
  await session.detach();
}

/** A finished download in `folder` (Chromium writes .crdownload until it is complete). */
async function downloaded(folder: string, name: string): Promise<Buffer> {
  const path = join(folder, name);
  for (let i = 0; i < 200; i++) {
    if (existsSync(path) && existsSync(folder) && !readdirSync(folder).some((f) => f.endsWith('.crdownload')))
      return readFileSync(path);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} was not downloaded: ${readdirSync(folder).join(', ')}`);
}

describe('files in the room chat', () => {
  it('the patient drops a PDF and an image, the doctor sees them and downloads identical bytes; a refused type says why', async () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1'), randomBytes(300_000)]);
    const png = await sharp({
      create: { width: 640, height: 400, channels: 3, background: { r: 40, g: 140, b: 200 } },
    })
      .png()
      .toBuffer();
    const big = Buffer.concat([pdf.subarray(0, 20), randomBytes(12 * 1024 * 1024)]);
    writeFileSync(join(dir, 'Befund.pdf'), pdf);
    writeFileSync(join(dir, 'knee.png'), png);
    writeFileSync(join(dir, 'scan-large.pdf'), big);
    writeFileSync(join(dir, 'tool.zip'), Buffer.from('PK\x03\x04not really a zip', 'latin1'));

    const booked = await call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, slot),
    });
    expect(booked.status).toBe(201);
    const id = booked.body.id as string;
    const token = async (who: string) =>
      (await call('POST', `/api/appointments/${id}/join-token`, { token: who })).body.token as string;
    const doctor = await open(await token(c.doctor.token));
    await waitForProbe(doctor, "window.carecall.status === 'admitted'");
    const patient = await open(await token(c.patient.token));
    await waitForProbe(patient, "window.carecall.status === 'waiting'");
    // Waiting: the chat has no attach button, and the socket refuses a file grant.
    await patient.click('#chat-toggle');
    await patient.waitForSelector('#chat-input');
    expect(await patient.$('#chat-file')).toBeNull();
    const refused = await patient.evaluate(() =>
      (
        window as unknown as {
          carecall: { client: { signaling: { request: (m: string, d: object) => Promise<unknown> } } };
        }
      ).carecall.client.signaling
        .request('files.grant', {})
        .then(
          () => 'granted',
          (err: { code?: string }) => err.code,
        ),
    );
    expect(refused).toBe('not_allowed');
    await doctor.waitForSelector('#waiting button.admit', { visible: true });
    await doctor.click('#waiting button.admit');
    await waitForProbe(patient, "window.carecall.status === 'admitted'");
    await patient.waitForSelector('#chat-file');

    // A large file on a slow line: its progress bar moves, and Cancel stops it; nothing is sent.
    const throttle = await patient.createCDPSession();
    await throttle.send('Network.enable');
    await throttle.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 20,
      downloadThroughput: -1,
      uploadThroughput: 1024 * 1024,
    });
    const input = (await patient.$('#chat-file')) as ElementHandle<HTMLInputElement>;
    await input.uploadFile(join(dir, 'scan-large.pdf'));
    await patient.waitForFunction(() => {
      const bar = document.querySelector<HTMLProgressElement>('#chat .transfer progress');
      return bar !== null && bar.value > 0 && bar.value < 100;
    });
    await patient.click('#chat .transfer button.cancel');
    await patient.waitForFunction(() => !document.querySelector('#chat .transfer'));
    await throttle.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    await throttle.detach();

    // The doctor's panel is closed: the badge counts the two file messages.
    await dropFiles(patient, '#chat', [join(dir, 'Befund.pdf'), join(dir, 'knee.png')]);
    await patient.waitForFunction(() => document.querySelectorAll('#chat li.mine .file-name').length === 2, {
      timeout: 20_000,
    });
    await doctor.waitForFunction(() => document.querySelector('#chat-toggle .badge')?.textContent === '2');
    await doctor.click('#chat-toggle');
    await doctor.waitForFunction(
      () =>
        document.querySelectorAll('#chat li.theirs .file-name').length === 2 &&
        document.querySelector<HTMLImageElement>('#chat li.theirs img.thumbnail')?.complete === true,
    );
    const cards = await doctor.$$eval('#chat li.theirs .file', (l) =>
      l.map((e) => ({
        name: e.querySelector('.file-name')?.textContent,
        size: e.querySelector('.file-size')?.textContent,
        thumb: e.querySelector('img')?.getAttribute('src')?.slice(0, 23) ?? null,
      })),
    );
    expect(cards).toEqual([
      { name: 'Befund.pdf', size: '300 kB', thumb: null },
      { name: 'knee.png', size: expect.stringMatching(/ B$| kB$/), thumb: 'data:image/webp;base64,' },
    ]);
    // No progress on the receiving side: only finished files arrive as messages.
    expect(await doctor.$('#chat .transfers')).toBeNull();
    expect(await doctor.$$eval('#chat li.theirs .body', (l) => l.length)).toBe(0);
    // The patient's messages are read now that the doctor has the panel open.
    await patient.waitForFunction(() =>
      [...document.querySelectorAll('#chat li.mine .receipt')].every((e) => e.textContent?.trim() === 'read'),
    );
    expect(await doctor.$$eval('#chat-toggle .badge', (l) => l.length)).toBe(0);

    // Each click asks for a fresh link; the downloaded bytes are the ones the patient dropped.
    const downloads = join(dir, 'downloads');
    const browserSession = await chromium.browser.target().createCDPSession();
    await browserSession.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
    await doctor.click('#chat li.theirs:nth-of-type(1) button.download');
    expect(sha256(await downloaded(downloads, 'Befund.pdf'))).toBe(sha256(pdf));
    await doctor.click('#chat li.theirs:nth-of-type(2) button.download');
    expect(sha256(await downloaded(downloads, 'knee.png'))).toBe(sha256(png));

    // A type the clinic does not take: refused before anything is kept, and the patient reads why.
    await input.uploadFile(join(dir, 'tool.zip'));
    await patient.waitForSelector('#chat .transfer.failed [role=alert]');
    expect(await patient.$eval('#chat .transfer.failed [role=alert]', (e) => e.textContent)).toBe(
      'tool.zip: this type of file cannot be sent here.',
    );
    await doctor.type('#chat-input', 'Keep the knee up tonight');
    await doctor.click('#chat button[type=submit]');
    await patient.waitForFunction(() =>
      [...document.querySelectorAll('#chat li.theirs .body')].some(
        (e) => e.textContent === 'Keep the knee up tonight',
      ),
    );
    expect(await axe(doctor)).toEqual([]);
    expect(await axe(patient)).toEqual([]);
    await Promise.all([doctor, patient].map((p) => p.click('#leave')));
    room.pdf = pdf;
  }, 90_000);

  it('after the call the patient signs in on the threads page and reads the messages and the files', async () => {
    expect(room.pdf).toBeDefined();
    const page = await openWindow(chromium.browser);
    pages.push(page);
    await page.setViewport({ width: 1280, height: 720 });
    await page.goto(`${n.baseUrl}/app/threads.html`);
    // The sign-in form has the focus on its heading; typing and Enter work as for a person.
    await page.waitForSelector('#email');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('sign-in-title');
    expect(await axe(page)).toEqual([]);
    await page.type('#email', c.patient.email);
    await page.type('#password', 'wrong-password-here');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[role=alert]');
    expect(await page.$eval('[role=alert]', (e) => e.textContent)).toBe(
      'The e-mail or the password is not right.',
    );
    await page.$eval('#password', (e) => ((e as HTMLInputElement).value = ''));
    await page.type('#password', PASSWORD);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#code');
    const code = codeIn((await lastMessage(n.node.db.db, c.patient.email))!.body)!;
    await page.type('#code', code);
    await page.keyboard.press('Enter');
    // The list: the consultation, with nothing unread (the patient read everything in the call).
    await page.waitForSelector('.conversations button');
    expect(page.url()).not.toContain('token');
    expect(await page.evaluate(() => Object.keys(sessionStorage))).toEqual(['carecall.threads.tokens']);
    expect(await page.$$eval('.conversations button .title', (l) => l.map((e) => e.textContent))).toContain(
      'Consultation',
    );
    expect(await axe(page)).toEqual([]);
    // Keyboard only: Tab to the conversation and open it with Enter; the focus lands on its heading.
    await page.focus('.conversations button');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.id === 'thread-title');
    await page.waitForFunction(() => document.querySelectorAll('.thread .file-name').length === 2);
    expect(await page.$$eval('.thread li .body', (l) => l.map((e) => e.textContent))).toEqual([
      'Keep the knee up tonight',
    ]);
    expect(await page.$$eval('.thread .file-name', (l) => l.map((e) => e.textContent))).toEqual([
      'Befund.pdf',
      'knee.png',
    ]);
    expect(await page.$$eval('.thread li.theirs .who', (l) => l.map((e) => e.textContent))).toEqual([
      'Doctor',
    ]);
    expect(await page.$eval('.thread img.thumbnail', (e) => e.getAttribute('src')?.slice(0, 15))).toBe(
      'data:image/webp',
    );
    const downloads = join(dir, 'thread-downloads');
    const browserSession = await chromium.browser.target().createCDPSession();
    await browserSession.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
    await page.click('.thread li:nth-of-type(1) button.download');
    expect(sha256(await downloaded(downloads, 'Befund.pdf'))).toBe(sha256(room.pdf!));
    // After the call the room conversation is read-only for the patient: the send is refused, in words.
    await page.type('#thread-input', 'One more question');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.thread [role=alert]');
    expect(await page.$eval('.thread [role=alert]', (e) => e.textContent)).toBe(
      'not sent: You cannot write here (any more).',
    );
    expect(await axe(page)).toEqual([]);
  }, 60_000);
});
