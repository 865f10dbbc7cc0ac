import { useState } from 'preact/hooks';
import { clock, hasMessage, t } from '../i18n/index.ts';
import type { CallState, CallStore } from './call-store.ts';
import { Controls, useShortcuts } from './controls.tsx';
import { useCall, useNow } from './hooks.ts';
import { roomFileCredentials } from '../chat-files.ts';
import { useChatFiles } from './chat-files.tsx';
import { ChatPanel, useRoomChat } from './chat-panel.tsx';
import { ParticipantsPanel, WaitingRoomPanel } from './side-panels.tsx';
import { RemoteAudio, Stage, type Layout } from './stage.tsx';
import { WaitingScreen } from './waiting-screen.tsx';

const reasonText = (reason: string) => {
  const key = `reason.${reason}`;
  return hasMessage(key) ? t(key) : reason.replace(/_/g, ' ');
};

function statusText(s: CallState): string {
  switch (s.phase) {
    case 'starting':
      return t('status.startingCamera');
    case 'joining':
      return t('status.joining');
    case 'waiting':
      return t('status.waiting');
    case 'inCall':
      return s.reconnecting ? t('banner.reconnecting') : t('status.inCall');
    case 'left':
      return t('status.left');
    case 'closed':
      return t('status.ended', { reason: reasonText(s.closedReason) });
    case 'failed':
      return t('status.couldNotJoin', { error: s.error });
  }
}

function CallTimer({ since }: { since: number }) {
  const now = useNow();
  return (
    <span id="call-timer" role="timer" aria-label={t('timer.label')}>
      {clock(now - since)}
    </span>
  );
}

function Banners({ store, state }: { store: CallStore; state: CallState }) {
  return (
    <div id="banners" aria-live="polite">
      {state.reconnecting && (
        <p class="banner warn" data-banner="reconnecting">
          {t('banner.reconnecting')}
        </p>
      )}
      {state.banners.map((b) => (
        <p key={b.id} class={`banner ${b.tone}`} data-banner={b.key}>
          <span>{t(b.key, b.values)}</span>
          <button
            type="button"
            class="dismiss"
            aria-label={t('devices.close')}
            onClick={() => store.dismiss(b.id)}
          >
            ×
          </button>
        </p>
      ))}
    </div>
  );
}

export function RoomApp({
  store,
  isHost,
  canModerate,
}: {
  store: CallStore;
  isHost: boolean;
  canModerate: boolean;
}) {
  const state = useCall(store);
  const [layout, setLayout] = useState<Layout>('grid');
  const [panel, setPanel] = useState<'none' | 'devices' | 'participants' | 'background' | 'chat'>('none');
  // The chat lives while the panel is closed: the unread badge and re-sends need it.
  const chat = useRoomChat(store, state);
  const files = useChatFiles(chat, () =>
    roomFileCredentials(() => store.client.signaling.request('files.grant', {})),
  );
  useShortcuts(store, state);
  const inCall = state.phase === 'inCall';
  return (
    <>
      <header>
        <strong>{t('appName')}</strong>
        <span id="status" role="status" aria-live="polite">
          {statusText(state)}
        </span>
        {inCall && state.callStartedAt > 0 && <CallTimer since={state.callStartedAt} />}
      </header>
      <Banners store={store} state={state} />
      <div id="body">
        {state.phase === 'waiting' ? (
          <WaitingScreen state={state} />
        ) : (
          <Stage store={store} state={state} layout={layout} />
        )}
        {isHost && inCall && <WaitingRoomPanel store={store} state={state} />}
        {panel === 'participants' && inCall && (
          <ParticipantsPanel store={store} state={state} canModerate={canModerate} />
        )}
        {panel === 'chat' && chat && <ChatPanel chat={chat} files={files} state={state} />}
      </div>
      <Controls
        store={store}
        state={state}
        layout={layout}
        setLayout={setLayout}
        panel={panel}
        setPanel={setPanel}
        isHost={canModerate}
        chatUnread={chat?.unread ?? 0}
      />
      <RemoteAudio store={store} state={state} />
    </>
  );
}
