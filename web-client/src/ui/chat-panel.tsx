import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ChatMessageInfo } from '../../../signaling/protocol/index.ts';
import { ChatClient, roomChatTransport } from '../chat-client.ts';
import type { ChatFiles } from '../chat-files.ts';
import { fileIdOf } from '../file-transfer.ts';
import { t } from '../i18n/index.ts';
import type { CallState, CallStore } from './call-store.ts';
import { AttachButton, FileMessage, Transfers, useDropZone } from './chat-files.tsx';

/** The room's chat, attached to the room socket once joined and again after each resume or rejoin. */
export function useRoomChat(store: CallStore, state: CallState): ChatClient | undefined {
  const chat = useMemo(() => (state.selfId ? new ChatClient(state.selfId) : undefined), [state.selfId]);
  const [, setTick] = useState(0);
  const redraw = () => setTick((n) => n + 1);
  const inCall = state.phase === 'inCall';
  useEffect(() => {
    if (!chat || !store.client) return;
    // A waiting participant may write to the hosts but reads nothing: its catch-up is refused.
    const attach = () => void chat.attach(roomChatTransport(store.client.signaling)).catch(() => {});
    attach();
    const offs = [
      chat.on('changed', redraw),
      chat.on('typing', redraw),
      store.client.on('connection', (s) => (s === 'resumed' || s === 'rejoined') && attach()),
    ];
    return () => offs.forEach((off) => off());
  }, [chat, inCall]);
  useEffect(() => () => chat?.close(), [chat]);
  return chat;
}

export function MessageRow({
  chat,
  files,
  m,
}: {
  chat: ChatClient;
  files: ChatFiles | undefined;
  m: ChatMessageInfo;
}) {
  const mine = m.senderId === chat.selfId;
  const fileId = fileIdOf(m.body);
  return (
    <li class={mine ? 'mine' : 'theirs'} data-seq={m.seq}>
      {m.deleted ? (
        <em>{t('chat.deleted')}</em>
      ) : fileId && files ? (
        <FileMessage files={files} fileId={fileId} />
      ) : (
        <span class="body">{m.body}</span>
      )}
      {m.edited && !m.deleted && <small class="edited"> {t('chat.edited')}</small>}
      {mine && <small class="receipt"> {t(`chat.${chat.statusOf(m)}`)}</small>}
    </li>
  );
}

/**
 * A side panel next to the participant list: messages (file messages as cards), my sends still
 * "sending", my uploads in flight, who types. Files are for the room only: a waiting participant
 * writes text to the hosts and gets no attach button.
 */
export function ChatPanel({
  chat,
  files,
  state,
}: {
  chat: ChatClient;
  files: ChatFiles | undefined;
  state: CallState;
}) {
  const [text, setText] = useState('');
  const inCall = state.phase === 'inCall';
  const drop = useDropZone(inCall ? files : undefined);
  // Open means seen: everything shown is marked read (the server only moves the watermark forward).
  useEffect(() => {
    if (inCall) void chat.markRead().catch(() => {});
  });
  return (
    <aside
      id="chat"
      class={`panel chat${drop.over ? ' drop-target' : ''}`}
      aria-label={t('chat.title')}
      {...drop.handlers}
    >
      <h2>{t('chat.title')}</h2>
      <ol class="messages" aria-live="polite">
        {chat.messages.map((m) => (
          <MessageRow key={m.seq} chat={chat} files={files} m={m} />
        ))}
        {chat.pending.map((p) => (
          <li key={p.id} class={`mine ${p.state}`}>
            <span class="body">{p.body}</span>
            <small class="receipt"> {t(p.state === 'failed' ? 'chat.failed' : 'chat.sending')}</small>
          </li>
        ))}
      </ol>
      {files && <Transfers files={files} />}
      <p class="typing" role="status">
        {chat.typingMembers.length > 0 ? t('chat.typing') : ''}
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!text.trim()) return;
          chat.send(text.trim());
          setText('');
        }}
      >
        <label for="chat-input">{state.phase === 'waiting' ? t('chat.toHosts') : t('chat.message')}</label>
        <input
          id="chat-input"
          value={text}
          onInput={(e) => {
            setText((e.currentTarget as HTMLInputElement).value);
            void chat.typing(true).catch(() => {});
          }}
        />
        <button type="submit">{t('chat.send')}</button>
      </form>
      {inCall && files && (
        <p class="attach-row">
          <AttachButton files={files} /> <span class="drop-hint">{t('file.dropHint')}</span>
        </p>
      )}
    </aside>
  );
}
