import { useState } from 'preact/hooks';
import type { ParticipantInfo, WaitingInfo } from '../../../signaling/protocol/index.ts';
import { formatDuration, t } from '../i18n/index.ts';
import type { CallState, CallStore } from './call-store.ts';
import { useNow } from './hooks.ts';

const report = (store: CallStore) => (err: unknown) =>
  store.banner('banner.error', 'error', { error: err instanceof Error ? err.message : String(err) });
const roleName = (role: string) => t(`participants.role.${role}` as never) || role;
const displayName = (p: { displayName?: string | undefined; role: string }) =>
  p.displayName ?? roleName(p.role);

function HostActions({ store, p }: { store: CallStore; p: ParticipantInfo }) {
  const [confirming, setConfirming] = useState(false);
  const name = displayName(p);
  const act = (run: () => Promise<unknown>) => () => void run().catch(report(store));
  if (confirming) {
    return (
      <span class="confirm" role="alert">
        {t('participants.removeConfirm', { name })}
        <button type="button" class="danger remove-confirm" onClick={act(() => store.remove(p.peerId))}>
          {t('participants.remove', { name })}
        </button>
        <button type="button" onClick={() => setConfirming(false)}>
          {t('devices.close')}
        </button>
      </span>
    );
  }
  return (
    <span class="actions">
      <button
        type="button"
        class="mute-mic"
        disabled={p.mic !== 'live'}
        aria-label={t('participants.muteMic', { name })}
        onClick={act(() => store.mute(p.peerId, 'mic'))}
      >
        {t('controls.mute')}
      </button>
      {p.webcam === 'muted_by_host' ? (
        <button
          type="button"
          class="allow-camera"
          aria-label={t('participants.allowCamera', { name })}
          onClick={act(() => store.release(p.peerId, 'webcam'))}
        >
          {t('controls.cameraOn')}
        </button>
      ) : (
        <button
          type="button"
          class="stop-camera"
          disabled={p.webcam === 'none'}
          aria-label={t('participants.stopCamera', { name })}
          onClick={act(() => store.mute(p.peerId, 'webcam'))}
        >
          {t('controls.cameraOff')}
        </button>
      )}
      {p.screen === 'live' && (
        <button
          type="button"
          class="stop-screen"
          aria-label={t('participants.stopScreen', { name })}
          onClick={act(() => store.mute(p.peerId, 'screen'))}
        >
          {t('controls.stopShare')}
        </button>
      )}
      <button
        type="button"
        class="remove danger"
        aria-label={t('participants.remove', { name })}
        onClick={() => setConfirming(true)}
      >
        {t('participants.removeShort')}
      </button>
    </span>
  );
}

export function ParticipantsPanel({
  store,
  state,
  canModerate,
}: {
  store: CallStore;
  state: CallState;
  canModerate: boolean;
}) {
  return (
    <aside id="participants" class="panel" aria-label={t('participants.title')}>
      <h2>{t('participants.title')}</h2>
      <ul>
        {state.participants.map((p) => {
          const self = p.peerId === state.selfId;
          const name = displayName(p);
          return (
            <li key={p.peerId} data-peer={p.peerId} data-mic={p.mic} data-webcam={p.webcam}>
              <span class="who">
                <span class="name">{self ? t('participants.you', { name }) : name}</span>
                <span class="role">
                  {roleName(p.role)}
                  {p.host ? ` · ${t('participants.host')}` : ''}
                </span>
              </span>
              <span class="media">
                <span
                  class={`state mic ${p.mic}`}
                  title={t(`participants.mic.${p.mic}`)}
                  role="img"
                  aria-label={t(`participants.mic.${p.mic}`)}
                >
                  {t(`participants.micShort.${p.mic}`)}
                </span>
                <span
                  class={`state webcam ${p.webcam}`}
                  role="img"
                  aria-label={t(`participants.webcam.${p.webcam}`)}
                >
                  {t(`participants.camShort.${p.webcam}`)}
                </span>
                {p.screen === 'live' && (
                  <span class="state screen" role="img" aria-label={t('participants.sharing')}>
                    {t('participants.sharing')}
                  </span>
                )}
              </span>
              {canModerate && !self && <HostActions store={store} p={p} />}
            </li>
          );
        })}
      </ul>
    </aside>
  );
}

function WaitingRow({ store, w, now }: { store: CallStore; w: WaitingInfo; now: number }) {
  const act = (run: () => Promise<unknown>) => () => void run().catch(report(store));
  return (
    <li data-peer={w.peerId}>
      <span class="who">
        <span class="name">{displayName(w)}</span>
        <span class="role">
          {t('waitingRoom.waitingFor', { time: formatDuration(now - Date.parse(w.since)) })}
        </span>
      </span>
      <button type="button" class="admit primary" onClick={act(() => store.client.admit(w.peerId))}>
        {t('waitingRoom.admit')}
      </button>
      <button type="button" class="deny" onClick={act(() => store.client.deny(w.peerId))}>
        {t('waitingRoom.deny')}
      </button>
    </li>
  );
}

/** Who is knocking (admit, deny, admit all) and a short note to them ("5 more minutes"). */
export function WaitingRoomPanel({ store, state }: { store: CallStore; state: CallState }) {
  const now = useNow();
  const [text, setText] = useState('');
  const [sent, setSent] = useState('');
  const send = (message: string) =>
    void store
      .messageWaiting(message)
      .then((r) => {
        setText('');
        setSent(t('waitingRoom.sent', { count: r.delivered }));
      })
      .catch(report(store));
  return (
    <aside id="waiting" class="panel" hidden={state.waiting.length === 0} aria-label={t('waitingRoom.title')}>
      <h2>{t('waitingRoom.title')}</h2>
      <ul>
        {state.waiting.map((w) => (
          <WaitingRow key={w.peerId} store={store} w={w} now={now} />
        ))}
      </ul>
      <button
        type="button"
        class="admit-all"
        onClick={() => void store.client.admitAll().catch(report(store))}
      >
        {t('waitingRoom.admitAll')}
      </button>
      <form
        class="message"
        onSubmit={(e) => {
          e.preventDefault();
          if (text.trim()) send(text.trim());
        }}
      >
        <label for="waiting-message">{t('waitingRoom.message')}</label>
        <div class="row">
          <input
            id="waiting-message"
            maxLength={200}
            value={text}
            onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
          />
          <button type="submit" id="waiting-send">
            {t('waitingRoom.send')}
          </button>
        </div>
        <div class="row presets">
          <button type="button" class="preset" onClick={() => send(t('waitingRoom.presetFive'))}>
            {t('waitingRoom.presetFive')}
          </button>
          <button type="button" class="preset" onClick={() => send(t('waitingRoom.presetSoon'))}>
            {t('waitingRoom.presetSoon')}
          </button>
        </div>
        <p class="sent" role="status">
          {sent}
        </p>
      </form>
    </aside>
  );
}
