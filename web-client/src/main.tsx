import { render } from 'preact';
import { lang, t } from './i18n/index.ts';
import { parseBackground } from './ui/background-control.ts';
import { CallStore } from './ui/call-store.ts';
import { askNotificationPermission, notifyKnock, playKnock } from './ui/knock.ts';
import { probe } from './ui/probe.ts';
import { RoomApp } from './ui/room-app.tsx';

/** The token's claims, read (not verified: the server does that) only to pick the host's controls. */
function claimsOf(token: string): { perms: string[] } {
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as {
      perms?: unknown;
    };
    return { perms: Array.isArray(payload.perms) ? payload.perms.map(String) : [] };
  } catch {
    return { perms: [] };
  }
}

function main() {
  document.documentElement.lang = lang;
  document.title = `${t('appName')}`;
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get('token');
  // Drop the token (and device ids) from the address bar and history as soon as they are read.
  history.replaceState(null, '', location.pathname + location.search);
  const root = document.getElementById('app')!;
  if (!token) {
    probe.status = 'no_token';
    render(
      <main id="stage" class="landing">
        <h1>{t('appName')}</h1>
        <p id="status" role="status">
          {t('status.noToken')}
        </p>
      </main>,
      root,
    );
    return;
  }
  const perms = claimsOf(token).perms;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const store: CallStore = new CallStore({
    token,
    signalingUrl: `${scheme}://${location.host}/ws`,
    // Carried over from the pre-call check.
    choice: {
      cameraId: fragment.get('cam') || undefined,
      microphoneId: fragment.get('mic') || undefined,
      speakerId: fragment.get('spk') || undefined,
    },
    // bg=blur | bg=replace:<image>: the background effect picked on the pre-call page.
    background: parseBackground(fragment.get('bg')),
    // relay=1: every byte through TURN (diagnosing restrictive networks; the TURN test).
    relay: fragment.get('relay') === '1',
    onKnock: (who) => {
      playKnock();
      notifyKnock();
      store.banner('banner.knock', 'info', { name: who.displayName ?? t('participants.role.patient') });
    },
  });
  if (perms.includes('admit'))
    document.addEventListener('pointerdown', askNotificationPermission, { once: true });
  render(
    <RoomApp store={store} isHost={perms.includes('admit')} canModerate={perms.includes('moderate')} />,
    root,
  );
  store.start().catch((err: unknown) => store.fail(err));
}

main();
