import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from '../i18n/index.ts';
import { canChooseSpeaker } from './speaker-choice.ts';
import { BackgroundPicker } from './background-picker.tsx';
import type { CallState, CallStore } from './call-store.ts';
import type { Layout } from './stage.tsx';

type Panel = 'none' | 'devices' | 'participants' | 'background' | 'chat';
export type ControlsProps = {
  store: CallStore;
  state: CallState;
  layout: Layout;
  setLayout: (l: Layout) => void;
  panel: Panel;
  setPanel: (p: Panel) => void;
  isHost: boolean;
  /** Unread chat messages, shown on the chat button. */
  chatUnread: number;
};

const report = (store: CallStore) => (err: unknown) =>
  store.banner('banner.error', 'error', { error: err instanceof Error ? err.message : String(err) });

/** M and V toggle microphone and camera, except while typing in a field. */
export function useShortcuts(store: CallStore, state: CallState) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || state.phase !== 'inCall') return;
      const target = e.target as HTMLElement | null;
      if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
      const key = e.key.toLowerCase();
      if (key === 'm') void store.toggle('mic').catch(report(store));
      else if (key === 'v') void store.toggle('webcam').catch(report(store));
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [store, state.phase]);
}

/** Camera, microphone and speaker choice during the call; Escape closes it and gives focus back. */
function DevicesMenu({ store, onClose }: { store: CallStore; onClose: () => void }) {
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const first = useRef<HTMLSelectElement>(null);
  useEffect(() => {
    void navigator.mediaDevices.enumerateDevices().then(setDevices);
    first.current?.focus();
  }, []);
  const choice = store.client.devices.choice;
  const current = {
    videoinput: choice.cameraId ?? store.client.published.get('webcam')?.track?.getSettings().deviceId,
    audioinput: choice.microphoneId ?? store.client.published.get('mic')?.track?.getSettings().deviceId,
    audiooutput: choice.speakerId ?? 'default',
  };
  const select = (kind: MediaDeviceKind, label: string, id: string, ref?: typeof first) => (
    <label>
      {label}
      <select
        id={id}
        ref={ref}
        value={current[kind as keyof typeof current]}
        onChange={(e) =>
          void store.switchDevice(kind, (e.currentTarget as HTMLSelectElement).value).catch(report(store))
        }
      >
        {devices
          .filter((d) => d.kind === kind)
          .map((d, i) => (
            <option key={d.deviceId} value={d.deviceId}>
              {d.label || `${label} ${i + 1}`}
            </option>
          ))}
      </select>
    </label>
  );
  return (
    <div
      id="devices-menu"
      class="popover"
      role="dialog"
      aria-label={t('devices.title')}
      onKeyDown={(e) => e.key === 'Escape' && onClose()}
    >
      <h2>{t('devices.title')}</h2>
      {select('videoinput', t('devices.camera'), 'device-camera', first)}
      {select('audioinput', t('devices.microphone'), 'device-microphone')}
      {canChooseSpeaker() ? (
        select('audiooutput', t('devices.speaker'), 'device-speaker')
      ) : (
        <p>{t('devices.speakerUnsupported')}</p>
      )}
      <button type="button" onClick={onClose}>
        {t('devices.close')}
      </button>
    </div>
  );
}

/** The background effect during the call; Escape closes it and gives focus back. */
function BackgroundMenu({
  store,
  state,
  onClose,
}: {
  store: CallStore;
  state: CallState;
  onClose: () => void;
}) {
  const first = useRef<HTMLDivElement>(null);
  useEffect(() => first.current?.querySelector<HTMLInputElement>('input:checked')?.focus(), []);
  return (
    <div
      id="background-menu"
      class="popover"
      role="dialog"
      aria-label={t('background.label')}
      ref={first}
      onKeyDown={(e) => e.key === 'Escape' && onClose()}
    >
      <BackgroundPicker
        idPrefix="room"
        value={state.background}
        busy={state.backgroundBusy}
        onChange={(mode) => void store.setBackground(mode)}
      />
      <button type="button" onClick={onClose}>
        {t('devices.close')}
      </button>
    </div>
  );
}

export function Controls({
  store,
  state,
  layout,
  setLayout,
  panel,
  setPanel,
  isHost,
  chatUnread,
}: ControlsProps) {
  const inCall = state.phase === 'inCall';
  const ended = state.phase === 'left' || state.phase === 'closed' || state.phase === 'failed';
  const [confirmEnd, setConfirmEnd] = useState(false);
  const devicesButton = useRef<HTMLButtonElement>(null);
  const backgroundButton = useRef<HTMLButtonElement>(null);
  const closeDevices = () => {
    setPanel('none');
    devicesButton.current?.focus();
  };
  const closeBackground = () => {
    setPanel('none');
    backgroundButton.current?.focus();
  };
  const canShare = typeof navigator.mediaDevices?.getDisplayMedia === 'function';
  const camHeld = state.held.has('webcam');
  return (
    <>
      {panel === 'devices' && inCall && <DevicesMenu store={store} onClose={closeDevices} />}
      {panel === 'background' && inCall && (
        <BackgroundMenu store={store} state={state} onClose={closeBackground} />
      )}
      <footer id="controls">
        <div class="bar" role="toolbar" aria-label={t('controls.label')}>
          <button
            id="toggle-mic"
            type="button"
            disabled={!inCall}
            aria-pressed={state.micMuted}
            aria-keyshortcuts="M"
            title={t('shortcuts.hint')}
            onClick={() => void store.toggle('mic').catch(report(store))}
          >
            {state.micMuted ? t('controls.unmute') : t('controls.mute')}
          </button>
          <button
            id="toggle-cam"
            type="button"
            disabled={!inCall || (camHeld && state.camOff)}
            aria-pressed={state.camOff}
            aria-keyshortcuts="V"
            onClick={() => void store.toggle('webcam').catch(report(store))}
          >
            {state.camOff ? t('controls.cameraOn') : t('controls.cameraOff')}
          </button>
          <button
            id="share-screen"
            type="button"
            disabled={!inCall || !canShare || (state.held.has('screen') && !state.sharing)}
            aria-pressed={state.sharing}
            onClick={() =>
              void store
                .toggleShare(() => navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }))
                .catch(report(store))
            }
          >
            {state.sharing ? t('controls.stopShare') : t('controls.share')}
          </button>
          <button
            id="devices"
            type="button"
            ref={devicesButton}
            disabled={!inCall}
            aria-expanded={panel === 'devices'}
            aria-controls={panel === 'devices' ? 'devices-menu' : undefined}
            onClick={() => setPanel(panel === 'devices' ? 'none' : 'devices')}
          >
            {t('controls.devices')}
          </button>
          <button
            id="background"
            type="button"
            ref={backgroundButton}
            disabled={!inCall}
            aria-expanded={panel === 'background'}
            aria-controls={panel === 'background' ? 'background-menu' : undefined}
            aria-pressed={state.background.kind !== 'off'}
            onClick={() => setPanel(panel === 'background' ? 'none' : 'background')}
          >
            {t('background.label')}
          </button>
          <button
            id="participants-toggle"
            type="button"
            disabled={!inCall}
            aria-expanded={panel === 'participants'}
            aria-controls={panel === 'participants' ? 'participants' : undefined}
            onClick={() => setPanel(panel === 'participants' ? 'none' : 'participants')}
          >
            {t('controls.participants', { count: state.participants.length || 1 })}
          </button>
          <button
            id="chat-toggle"
            type="button"
            disabled={state.phase !== 'inCall' && state.phase !== 'waiting'}
            aria-expanded={panel === 'chat'}
            aria-controls={panel === 'chat' ? 'chat' : undefined}
            onClick={() => setPanel(panel === 'chat' ? 'none' : 'chat')}
          >
            {t('chat.title')}
            {chatUnread > 0 && (
              <span class="badge" aria-label={t('chat.unread', { count: chatUnread })}>
                {chatUnread}
              </span>
            )}
          </button>
          <button
            id="layout"
            type="button"
            disabled={!inCall}
            onClick={() => setLayout(layout === 'grid' ? 'speaker' : 'grid')}
          >
            {layout === 'grid' ? t('controls.layoutSpeaker') : t('controls.layoutGrid')}
          </button>
          {ended && state.closedReason !== 'removed_by_host' ? (
            <button id="rejoin" type="button" class="primary" onClick={() => void store.rejoin()}>
              {t('controls.rejoin')}
            </button>
          ) : (
            <button
              id="leave"
              type="button"
              class="danger"
              disabled={state.phase === 'starting' || ended}
              onClick={() => store.leave()}
            >
              {t('controls.leave')}
            </button>
          )}
          {isHost && inCall && !confirmEnd && (
            <button id="end-all" type="button" class="danger" onClick={() => setConfirmEnd(true)}>
              {t('controls.endForAll')}
            </button>
          )}
          {isHost && inCall && confirmEnd && (
            <span class="confirm" role="alert">
              {t('controls.endConfirm')}
              <button
                id="end-all-confirm"
                type="button"
                class="danger"
                onClick={() => void store.endForEveryone().catch(report(store))}
              >
                {t('controls.endForAll')}
              </button>
              <button type="button" onClick={() => setConfirmEnd(false)}>
                {t('devices.close')}
              </button>
            </span>
          )}
        </div>
      </footer>
    </>
  );
}
