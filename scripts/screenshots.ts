/**
 * Starts a node, drives real room pages in Chromium (fake camera) and writes PNGs to
 * docs/screenshots/: the pre-call check, the waiting room from both sides, a 1:1 call, a
 * 4-person call, a screen share, a phone, the background effect (pre-call choice, blur in a call),
 * and the chat with files in a booked consultation. `npm run screenshots`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ElementHandle, Page } from 'puppeteer-core';
import sharp from 'sharp';
import { loadConfig } from '../server/config.ts';
import { seedDemo } from '../server/demo/demo-seed.ts';
import { createLogger } from '../server/logger.ts';
import { CareCallNode } from '../server/node.ts';
import { launchChromium, openWindow, waitForProbe } from '../test/helpers/browser.ts';

const OUT = new URL('../docs/screenshots/', import.meta.url).pathname;
mkdirSync(OUT, { recursive: true });

const config = loadConfig({
  ...process.env,
  NODE_ENV: 'test',
  HOST: '127.0.0.1',
  PORT: '0',
  PGLITE_DIR: 'memory://',
  DEMO: 'off',
  SFU_WORKERS: '1',
});
const node = await CareCallNode.start(config, createLogger('warn'));
const base = `http://127.0.0.1:${node.port}`;
const chromium = await launchChromium();
const doctorPerms = ['publish', 'subscribe', 'admit', 'moderate'] as const;
const roomId = () => Math.random().toString(36).slice(2, 14).padEnd(12, 'x');

async function open(
  room: string,
  sub: string,
  role: 'doctor' | 'patient' | 'guest',
  name: string,
  viewport = { width: 1280, height: 720 },
) {
  const page = await openWindow(chromium.browser);
  await page.setViewport(viewport);
  const perms = role === 'doctor' ? [...doctorPerms] : ['publish' as const, 'subscribe' as const];
  const token = await node.issuer.mint({ sub, room, role, name, perms });
  await page.goto(`${base}/app/#token=${encodeURIComponent(token)}`);
  return page;
}
const settle = (ms = 1500) => new Promise((r) => setTimeout(r, ms));
async function shot(page: Page, file: string) {
  await page.screenshot({ path: join(OUT, file) });
  process.stdout.write(`wrote docs/screenshots/${file}\n`);
}
async function admit(doctor: Page, peerId: string) {
  await doctor.waitForSelector(`#waiting li[data-peer="${peerId}"] button.admit`, { visible: true });
  await doctor.click(`#waiting li[data-peer="${peerId}"] button.admit`);
}
const closeAll = (pages: Page[]) => Promise.all(pages.map((p) => p.close().catch(() => undefined)));

try {
  // Pre-call check.
  {
    const page = await openWindow(chromium.browser);
    await page.setViewport({ width: 1280, height: 720 });
    const token = await node.issuer.mint({
      sub: 'precall',
      room: roomId(),
      role: 'patient',
      name: 'Alex Patient',
      perms: ['publish', 'subscribe'],
    });
    await page.goto(`${base}/app/precall.html#token=${encodeURIComponent(token)}`);
    await page.waitForFunction('window.precall && window.precall.done', { timeout: 20_000 });
    await settle(800);
    await shot(page, 'precall.png');
    await page.click('#precall-background-blur');
    await page.waitForFunction('window.precall.background.effect !== undefined', { timeout: 20_000 });
    await settle(1500);
    await shot(page, 'precall-background.png');
    await page.close();
  }

  // Waiting room, both sides; then the 1:1 call with the participant list; then a screen share.
  {
    const room = roomId();
    const doctor = await open(room, 'doc', 'doctor', 'Dr. Rivera');
    await waitForProbe(doctor, "window.carecall.status === 'admitted'", 30_000);
    const patient = await open(room, 'pat', 'patient', 'Alex Patient');
    await waitForProbe(patient, "window.carecall.status === 'waiting'", 30_000);
    await doctor.waitForSelector('#waiting li[data-peer="pat"]', { visible: true });
    await doctor.click('#waiting .preset');
    await patient.waitForSelector('#host-message');
    await settle(2500);
    await shot(patient, 'waiting-patient.png');
    await shot(doctor, 'waiting-doctor.png');
    await admit(doctor, 'pat');
    await waitForProbe(doctor, 'window.carecall.firstRemoteFrameAt > 0', 30_000);
    await waitForProbe(patient, 'window.carecall.firstRemoteFrameAt > 0', 30_000);
    await doctor.click('#participants-toggle');
    await settle(2500);
    await shot(doctor, 'call-1to1-doctor.png');
    await shot(patient, 'call-1to1-patient.png');
    // The patient blurs the room behind them: the menu open on their side, the doctor's view of it.
    await patient.click('#background');
    await patient.click('#room-background-blur');
    await patient.waitForFunction('window.carecall.background.effect !== undefined', { timeout: 20_000 });
    await settle(3000);
    await shot(patient, 'call-background-blur-patient.png');
    await shot(doctor, 'call-background-blur-doctor.png');
    await patient.keyboard.press('Escape');
    await doctor.click('#participants-toggle');
    await patient.click('#share-screen');
    await patient.waitForFunction(
      "document.querySelector('#share-screen').getAttribute('aria-pressed') === 'true'",
      { timeout: 15_000 },
    );
    await doctor.waitForSelector('#tile-pat-screen video');
    await doctor.click('#layout');
    await settle(3000);
    await shot(doctor, 'screen-share.png');
    await closeAll([doctor, patient]);
  }

  // Four people: a doctor, a patient, a relative and an interpreter.
  {
    const room = roomId();
    const doctor = await open(room, 'doc', 'doctor', 'Dr. Rivera');
    await waitForProbe(doctor, "window.carecall.status === 'admitted'", 30_000);
    const others: Page[] = [];
    for (const [sub, name] of [
      ['pat', 'Alex Patient'],
      ['rel', 'Sam (relative)'],
      ['int', 'Interpreter'],
    ] as const) {
      const page = await open(room, sub, sub === 'pat' ? 'patient' : 'guest', name);
      await waitForProbe(page, "window.carecall.status === 'waiting'", 30_000);
      await admit(doctor, sub);
      await waitForProbe(page, "window.carecall.status === 'admitted'", 30_000);
      others.push(page);
    }
    await doctor.waitForFunction(
      "document.querySelectorAll('#stage .tile:not(.local) video').length >= 3 && window.carecall.client.consumers.size >= 6",
      { timeout: 30_000 },
    );
    await settle(4000);
    await shot(doctor, 'call-4-people.png');
    await closeAll([doctor, ...others]);
  }

  // Chat with files, in a booked consultation (the demo one): the patient sent an image and a PDF.
  {
    await seedDemo(node.db.db, node.identity.passwords);
    const ticket = (who: 'doctor' | 'patient') => node.services.demoConsultation.ticket(who);
    const openTicket = async (token: string) => {
      const page = await openWindow(chromium.browser);
      await page.setViewport({ width: 1280, height: 720 });
      await page.goto(`${base}/app/#token=${encodeURIComponent(token)}`);
      return page;
    };
    const files = mkdtempSync(join(tmpdir(), 'carecall-shots-'));
    writeFileSync(
      join(files, 'knee-photo.png'),
      await sharp({ create: { width: 480, height: 320, channels: 3, background: { r: 52, g: 120, b: 176 } } })
        .composite([
          {
            input: Buffer.from(
              '<svg width="480" height="320"><circle cx="240" cy="160" r="90" fill="#e8c4a0"/></svg>',
            ),
          },
        ])
        .png()
        .toBuffer(),
    );
    writeFileSync(
      join(files, 'Befund Radiologie.pdf'),
      Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(182_000, 32)]),
    );
    const doctor = await openTicket((await ticket('doctor')).token);
    await waitForProbe(doctor, "window.carecall.status === 'admitted'", 30_000);
    const patient = await openTicket((await ticket('patient')).token);
    await waitForProbe(patient, "window.carecall.status === 'waiting'", 30_000);
    await doctor.waitForSelector('#waiting button.admit', { visible: true });
    await doctor.click('#waiting button.admit');
    await waitForProbe(patient, 'window.carecall.firstRemoteFrameAt > 0', 30_000);
    await patient.click('#chat-toggle');
    await patient.type('#chat-input', 'Here is the photo of my knee and the report.');
    await patient.click('#chat button[type=submit]');
    const input = (await patient.waitForSelector('#chat-file')) as ElementHandle<HTMLInputElement>;
    await input.uploadFile(join(files, 'knee-photo.png'));
    await patient.waitForFunction(() => document.querySelectorAll('#chat li.mine .file-name').length === 1);
    await input.uploadFile(join(files, 'Befund Radiologie.pdf'));
    await patient.waitForFunction(() => document.querySelectorAll('#chat li.mine .file-name').length === 2);
    await doctor.click('#chat-toggle');
    await doctor.waitForFunction(
      () => document.querySelector<HTMLImageElement>('#chat li.theirs img.thumbnail')?.complete === true,
    );
    await doctor.type('#chat-input', 'Thank you, I am looking at it');
    await settle(2000);
    await shot(doctor, 'chat-files-doctor.png');
    await closeAll([doctor, patient]);
    rmSync(files, { recursive: true, force: true });
  }

  // A phone: the patient's call view at 390x844.
  {
    const room = roomId();
    const phone = { width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
    const doctor = await open(room, 'doc', 'doctor', 'Dr. Rivera');
    await waitForProbe(doctor, "window.carecall.status === 'admitted'", 30_000);
    const patient = await open(room, 'pat', 'patient', 'Alex Patient', phone);
    await waitForProbe(patient, "window.carecall.status === 'waiting'", 30_000);
    await admit(doctor, 'pat');
    await waitForProbe(patient, 'window.carecall.firstRemoteFrameAt > 0', 30_000);
    await settle(2500);
    await shot(patient, 'call-phone.png');
    await closeAll([doctor, patient]);
  }
} finally {
  await chromium.close();
  await node.stop();
}
