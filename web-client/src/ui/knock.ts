import { t } from '../i18n/index.ts';

let context: AudioContext | undefined;

/** Two soft knocks made with WebAudio (no sound file to fetch): a short low tone that dies away fast. */
export function playKnock() {
  try {
    context ??= new AudioContext();
    const now = context.currentTime;
    for (const at of [0, 0.18]) {
      const osc = context.createOscillator();
      const gain = context.createGain();
      osc.type = 'triangle';
      osc.frequency.setValueAtTime(180, now + at);
      osc.frequency.exponentialRampToValueAtTime(90, now + at + 0.12);
      gain.gain.setValueAtTime(0.0001, now + at);
      gain.gain.exponentialRampToValueAtTime(0.6, now + at + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.15);
      osc.connect(gain).connect(context.destination);
      osc.start(now + at);
      osc.stop(now + at + 0.16);
    }
    (window as unknown as { carecall?: { events: string[] } }).carecall?.events.push('knock');
  } catch {
    // No audio output (or autoplay refused before any click): the visual banner still shows.
  }
}

/** Asks once, from a click, whether the host wants notifications while the tab is in the background. */
export function askNotificationPermission() {
  if (typeof Notification !== 'undefined' && Notification.permission === 'default')
    void Notification.requestPermission().catch(() => undefined);
}

/** A system notification when the host's tab is hidden; the name stays out of it (lock screens show it). */
export function notifyKnock() {
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted' || !document.hidden)
    return;
  const n = new Notification(t('notification.knockTitle'), {
    body: t('notification.knockBody', { name: t('participants.role.patient') }),
    tag: 'carecall-knock',
  });
  n.onclick = () => {
    window.focus();
    n.close();
  };
  (window as unknown as { carecall?: { events: string[] } }).carecall?.events.push('knockNotification');
}
