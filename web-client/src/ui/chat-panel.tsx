import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ChatMessageInfo } from '../../../signaling/protocol/index.ts';
import { ChatClient, roomChatTransport } from '../chat-client.ts';
import { t } from '../i18n/index.ts';
import type { CallState, CallStore } from './call-store.ts';

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

function MessageRow({ chat, m }: { chat: ChatClient; m: ChatMessageInfo }) {
  const mine = m.senderId === chat.selfId;
  return (
    <li class={mine ? 'mine' : 'theirs'} data-seq={m.seq}>
      {m.deleted ? <em>{t('chat.deleted')}</em> : <span class="body">{m.body}</span>}
      {m.edited && !m.deleted && <small class="edited"> {t('chat.edited')}</small>}
      {mine && <small class="receipt"> {t(`chat.${chat.statusOf(m)}`)}</small>}
    </li>
  );
}

/** A side panel next to the participant list: messages, my sends still "sending", who types. */
export function ChatPanel({ chat, state }: { chat: ChatClient; state: CallState }) {
  const [text, setText] = useState('');
  const inCall = state.phase === 'inCall';
  // Open means seen: everything shown is marked read (the server only moves the watermark forward).
  useEffect(() => {
    if (inCall) void chat.markRead().catch(() => {});
  });
  return (
    <aside id="chat" class="panel chat" aria-label={t('chat.title')}>
      <h2>{t('chat.title')}</h2>
      <ol class="messages" aria-live="polite">
        {chat.messages.map((m) => (
          <MessageRow key={m.seq} chat={chat} m={m} />
        ))}
        {chat.pending.map((p) => (
          <li key={p.id} class={`mine ${p.state}`}>
            <span class="body">{p.body}</span>
            <small class="receipt"> {t(p.state === 'failed' ? 'chat.failed' : 'chat.sending')}</small>
          </li>
        ))}
      </ol>
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
    </aside>
  );
}
