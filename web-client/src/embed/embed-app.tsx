import { useEffect, useMemo, useState } from 'preact/hooks';
import { t, type MessageKey } from '../i18n/index.ts';
import { Precall, type PrecallChoice } from '../precall.tsx';
import { CallStore } from '../ui/call-store.ts';
import { RoomApp } from '../ui/room-app.tsx';
import type { HostChannel } from './host-channel.ts';
import type { EmbedBoot } from './messages.ts';

type Joined = { joinToken: string };
type Phase =
  | { name: 'exchanging' }
  | { name: 'precall'; joinToken: string }
  | { name: 'room'; store: CallStore }
  | { name: 'failed'; detail: string };

/** The widget session traded for a join token (same origin, token in the body, never in a URL). */
async function exchange(session: string): Promise<Joined> {
  const res = await fetch('/api/widget/join', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: session }),
    credentials: 'omit',
  });
  const body = (await res.json().catch(() => ({}))) as { joinToken?: string; code?: string; detail?: string };
  if (!res.ok || !body.joinToken)
    throw Object.assign(new Error(body.detail ?? `HTTP ${res.status}`), { code: body.code ?? 'http_error' });
  return { joinToken: body.joinToken };
}

/** A call store for the widget's patient, reporting its milestones to the embedding page. */
function roomStore(joinToken: string, choice: PrecallChoice, channel: HostChannel | undefined) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const store = new CallStore({
    token: joinToken,
    signalingUrl: `${scheme}://${location.host}/ws`,
    choice: { cameraId: choice.cameraId, microphoneId: choice.microphoneId, speakerId: choice.speakerId },
    background: choice.background,
    relay: false,
  });
  let last = store.state;
  store.subscribe(() => {
    const s = store.state;
    if (s.selfId && s.selfId !== last.selfId) channel?.post('joined', {});
    if (s.phase !== last.phase) {
      if (s.phase === 'inCall') channel?.post('admitted', {});
      else if (s.phase === 'left') channel?.post('left', {});
      else if (s.phase === 'closed') channel?.post('ended', { reason: s.closedReason });
      else if (s.phase === 'failed') channel?.post('error', { code: 'join_failed', message: s.error });
    }
    last = s;
  });
  return store;
}

function Refused({ reason }: { reason: string }) {
  return (
    <main id="stage" class="landing embed-refused" aria-labelledby="refused-title">
      <h1 id="refused-title">{t('embed.refused.title')}</h1>
      <p id="refused-reason" role="alert" data-reason={reason}>
        {t(`embed.refused.${reason}` as MessageKey)}
      </p>
    </main>
  );
}

/**
 * The patient flow in the clinic's iframe: the pre-call check, then the waiting room and the call,
 * both the very components of the app's own pages, wrapped; the host page hears what happens.
 */
export function EmbedApp({ boot, channel }: { boot: EmbedBoot; channel: HostChannel | undefined }) {
  const [phase, setPhase] = useState<Phase>({ name: 'exchanging' });
  const [joinSignal, setJoinSignal] = useState(0);
  const session = 'session' in boot ? boot : undefined;
  const brand = useMemo(
    () => (session?.accentColor ? { '--accent': session.accentColor } : undefined),
    [session?.accentColor],
  );

  useEffect(() => {
    if (!session) return;
    exchange(session.session).then(
      ({ joinToken }) => {
        setPhase({ name: 'precall', joinToken });
        channel?.post('ready', {});
      },
      (err: Error & { code?: string }) => {
        setPhase({ name: 'failed', detail: err.message });
        channel?.post('error', { code: err.code ?? 'error', message: err.message });
      },
    );
  }, []);

  useEffect(() => {
    document.body.classList.toggle('precall', phase.name === 'precall');
  }, [phase.name]);

  useEffect(
    () =>
      channel?.onCommand((command) => {
        if (command === 'join') {
          if (phase.name === 'precall') setJoinSignal((n) => n + 1);
          else if (phase.name === 'room' && phase.store.state.phase === 'left') void phase.store.rejoin();
        } else if (command === 'leave' && phase.name === 'room' && phase.store.state.phase !== 'left')
          phase.store.leave();
      }),
    [phase],
  );

  if (!session) return <Refused reason={(boot as { refused: string }).refused} />;
  const join = (choice: PrecallChoice) => {
    if (phase.name !== 'precall') return;
    const store = roomStore(phase.joinToken, choice, channel);
    setPhase({ name: 'room', store });
    store.start().catch((err: unknown) => store.fail(err));
  };
  return (
    <div id="embed" class="embed-frame" style={brand}>
      {session.logoText && (
        <p class="embed-brand" id="embed-brand">
          {session.logoText}
        </p>
      )}
      {phase.name === 'exchanging' && (
        <main id="stage" class="landing">
          <p id="status" role="status">
            {t('embed.loading')}
          </p>
        </main>
      )}
      {phase.name === 'failed' && (
        <main id="stage" class="landing">
          <p id="status" role="alert">
            {t('embed.failed', { error: phase.detail })}
          </p>
        </main>
      )}
      {phase.name === 'precall' && <Precall token={phase.joinToken} onJoin={join} joinSignal={joinSignal} />}
      {phase.name === 'room' && <RoomApp store={phase.store} isHost={false} canModerate={false} />}
    </div>
  );
}
