import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { CHROMIUM_PATH } from './env.ts';

/**
 * Debian Chromium with fake camera/mic; flags from shared/notes/offline-dependencies.md.
 * `fakeCameras`: how many fake cameras it offers (device switching); audio devices come in twos anyway.
 */
export async function launchChromium(
  opts: { fakeCameras?: number } = {},
): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'carecall-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      '--use-fake-ui-for-media-stream',
      `--use-fake-device-for-media-stream=fps=30${opts.fakeCameras ? `,device-count=${opts.fakeCameras}` : ''}`,
      '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--autoplay-policy=no-user-gesture-required',
      // Screen share in headless tests: capture the page's own tab without a picker.
      '--auto-accept-this-tab-capture',
      '--auto-select-tab-capture-source-by-title=CareCall',
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A foreground window: in background tabs requestVideoFrameCallback never fires. */
export async function openWindow(browser: Browser): Promise<Page> {
  const page = await browser.newPage({ type: 'window' } as never);
  const log: string[] = [];
  consoleLogs.set(page, log);
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e instanceof Error ? e.message : String(e)}`));
  return page;
}

const consoleLogs = new WeakMap<Page, string[]>();

export type ProbeState = {
  joinStartedAt: number;
  joinedAt: number;
  admittedAt: number;
  firstRemoteFrameAt: number;
  error: string;
};

export async function waitForProbe(page: Page, predicate: string, timeoutMs = 15_000) {
  try {
    await page.waitForFunction(`window.carecall && (window.carecall.error || (${predicate}))`, {
      timeout: timeoutMs,
      polling: 50,
    });
  } catch (err) {
    const state = await page
      .evaluate(
        'JSON.stringify({...window.carecall, client: undefined, stats: undefined, consumers: window.carecall?.client?.consumers.size})',
      )
      .catch(() => '?');
    const log = (consoleLogs.get(page) ?? []).slice(-15).join('\n  ');
    throw new Error(
      `waiting for ${predicate}: ${(err as Error).message}\n state: ${String(state)}\n console:\n  ${log}`,
    );
  }
  const state = (await page.evaluate(
    '({...window.carecall, client: undefined, stats: undefined})',
  )) as ProbeState;
  if (state.error) throw new Error(`page error: ${state.error}`);
  return state;
}

export type Stats = {
  video: { consumerId: string; source: string; framesDecoded: number; frameWidth: number }[];
  audio: { consumerId: string; totalAudioEnergy: number; totalSamplesReceived: number }[];
};

export const pageStats = (page: Page) => page.evaluate('window.carecall.stats()') as Promise<Stats>;
