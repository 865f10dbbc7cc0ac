import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ChatMessageInfo } from '../../../signaling/protocol/index.ts';
import { accountFileCredentials, ChatFiles } from '../chat-files.ts';
import { fileIdOf } from '../file-transfer.ts';
import { hasMessage, t } from '../i18n/index.ts';
import { ApiError, type ConversationSummary, type ThreadsApi } from '../threads-api.ts';
import { FileMessage } from './chat-files.tsx';

/** A refusal in words: known codes have their own sentence, others name the code. */
function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    const key = `threads.error.${err.code}`;
    return hasMessage(key) ? t(key) : t('threads.error.other', { code: err.code });
  }
  return t('threads.error.network');
}

/** Each view's heading takes the focus when the view opens, so keyboard and screen reader users land on it. */
function useFocusOnMount() {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return ref;
}

function Alert({ text }: { text: string }) {
  return text ? (
    <p class="error" role="alert">
      {text}
    </p>
  ) : null;
}

function SignIn({ api, done }: { api: ThreadsApi; done: () => void }) {
  const [challenge, setChallenge] = useState<{ id: string; method: string; destination: string | null }>();
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const heading = useFocusOnMount();
  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError('');
    try {
      await work();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  if (challenge)
    return <CodeStep api={api} challenge={challenge} done={done} busy={busy} run={run} error={error} />;
  return (
    <form
      class="card"
      aria-labelledby="sign-in-title"
      onSubmit={(e) => {
        e.preventDefault();
        const f = new FormData(e.currentTarget as HTMLFormElement);
        void run(async () => {
          const step = await api.signIn(String(f.get('email')), String(f.get('password')));
          if (step.mfaRequired)
            setChallenge({ id: step.challengeId, method: step.method, destination: step.destination });
          else done();
        });
      }}
    >
      <h1 id="sign-in-title" tabIndex={-1} ref={heading}>
        {t('threads.signInTitle')}
      </h1>
      <label for="email">{t('threads.email')}</label>
      <input id="email" name="email" type="email" autocomplete="username" required />
      <label for="password">{t('threads.password')}</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required />
      <Alert text={error} />
      <button type="submit" class="primary" disabled={busy}>
        {t('threads.signIn')}
      </button>
    </form>
  );
}

function CodeStep(p: {
  api: ThreadsApi;
  challenge: { id: string; method: string; destination: string | null };
  done: () => void;
  busy: boolean;
  run: (work: () => Promise<void>) => Promise<void>;
  error: string;
}) {
  const heading = useFocusOnMount();
  const hint =
    p.challenge.method === 'totp'
      ? t('threads.codeFromApp')
      : t('threads.codeSent', { destination: p.challenge.destination ?? '' });
  return (
    <form
      class="card"
      aria-labelledby="code-title"
      onSubmit={(e) => {
        e.preventDefault();
        const code = String(new FormData(e.currentTarget as HTMLFormElement).get('code')).trim();
        void p.run(async () => {
          await p.api.secondFactor(p.challenge.id, code);
          p.done();
        });
      }}
    >
      <h1 id="code-title" tabIndex={-1} ref={heading}>
        {t('threads.codeTitle')}
      </h1>
      <p id="code-hint">{hint}</p>
      <label for="code">{t('threads.code')}</label>
      <input
        id="code"
        name="code"
        inputMode="numeric"
        autocomplete="one-time-code"
        pattern="[0-9]{6}"
        aria-describedby="code-hint"
        required
      />
      <Alert text={p.error} />
      <button type="submit" class="primary" disabled={p.busy}>
        {t('threads.verify')}
      </button>
    </form>
  );
}

const titleOf = (c: ConversationSummary) =>
  t(c.kind === 'room' ? 'threads.consultation' : 'threads.careThread');

function ConversationList({ api, open }: { api: ThreadsApi; open: (c: ConversationSummary) => void }) {
  const [list, setList] = useState<ConversationSummary[]>();
  const [error, setError] = useState('');
  const heading = useFocusOnMount();
  useEffect(() => {
    api.conversations().then(setList, (err: unknown) => setError(errorText(err)));
  }, []);
  return (
    <section class="card" aria-labelledby="list-title">
      <h1 id="list-title" tabIndex={-1} ref={heading}>
        {t('threads.listTitle')}
      </h1>
      <Alert text={error} />
      {list && list.length === 0 && <p>{t('threads.none')}</p>}
      <ul class="conversations">
        {list?.map((c) => (
          <li key={c.id}>
            <button type="button" data-conversation={c.id} onClick={() => open(c)}>
              <span class="title">{titleOf(c)}</span>
              {c.unread > 0 && <span class="badge">{t('chat.unread', { count: c.unread })}</span>}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Thread({
  api,
  me,
  conversation,
  back,
}: {
  api: ThreadsApi;
  me: string;
  conversation: ConversationSummary;
  back: () => void;
}) {
  const [messages, setMessages] = useState(new Map<number, ChatMessageInfo>());
  const [older, setOlder] = useState<number | null>(null);
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  const heading = useFocusOnMount();
  const files = useMemo(
    () =>
      new ChatFiles(
        accountFileCredentials(() => api.accessToken),
        {
          conversationId: () => conversation.id,
          send: () => {},
        },
      ),
    [conversation.id],
  );
  const [, setTick] = useState(0);
  useEffect(() => files.on('changed', () => setTick((n) => n + 1)), [files]);
  const add = (list: ChatMessageInfo[]) =>
    setMessages((m) => {
      const next = new Map(m);
      for (const x of list) next.set(x.seq, x);
      return next;
    });
  const page = async (before?: number) => {
    const p = await api.history(conversation.id, before);
    add(p.messages);
    setOlder(p.nextBefore);
    const newest = p.messages[0]?.seq;
    if (newest && before === undefined) await api.markRead(conversation.id, newest);
  };
  useEffect(() => {
    page().catch((err: unknown) => setError(errorText(err)));
  }, [conversation.id]);
  const shown = [...messages.values()].sort((a, b) => a.seq - b.seq);
  const senderName = (m: ChatMessageInfo) =>
    m.senderId === me
      ? t('threads.you')
      : m.senderId === conversation.doctorId
        ? t('threads.doctor')
        : t('threads.patientSide');
  return (
    <section class="card thread" aria-labelledby="thread-title">
      <button type="button" class="back" onClick={back}>
        {t('threads.back')}
      </button>
      <h1 id="thread-title" tabIndex={-1} ref={heading}>
        {titleOf(conversation)}
      </h1>
      {older !== null && (
        <button type="button" class="older" onClick={() => void page(older).catch(() => {})}>
          {t('threads.older')}
        </button>
      )}
      <ol class="messages" aria-label={t('threads.messages')}>
        {shown.map((m) => {
          const fileId = fileIdOf(m.body);
          return (
            <li key={m.seq} class={m.senderId === me ? 'mine' : 'theirs'} data-seq={m.seq}>
              <small class="who">{senderName(m)}</small>{' '}
              {m.deleted ? (
                <em>{t('chat.deleted')}</em>
              ) : fileId ? (
                <FileMessage files={files} fileId={fileId} />
              ) : (
                <span class="body">{m.body}</span>
              )}
              {m.edited && !m.deleted && <small class="edited"> {t('chat.edited')}</small>}
            </li>
          );
        })}
      </ol>
      <Alert text={error} />
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const body = text.trim();
          if (!body) return;
          setError('');
          const last = shown.at(-1)?.seq ?? 0;
          api
            .send(conversation.id, crypto.randomUUID(), body)
            .then(async () => {
              setText('');
              add(await api.after(conversation.id, last));
            })
            .catch((err: unknown) => setError(`${t('chat.failed')}: ${errorText(err)}`));
        }}
      >
        <label for="thread-input">{t('chat.message')}</label>
        <input
          id="thread-input"
          value={text}
          onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
        />
        <button type="submit">{t('chat.send')}</button>
      </form>
    </section>
  );
}

/** The threads page: sign in, my conversations with unread counts, one conversation's history and replies. */
export function ThreadsApp({ api }: { api: ThreadsApi }) {
  const [signedIn, setSignedIn] = useState(api.signedIn);
  const [me, setMe] = useState<string>();
  const [open, setOpen] = useState<ConversationSummary>();
  useEffect(() => {
    if (!signedIn) return;
    api.me().then(
      (m) => setMe(m.id),
      () => setSignedIn(api.signedIn),
    );
  }, [signedIn]);
  return (
    <>
      <header>
        <strong>{t('appName')}</strong>
        {signedIn && (
          <button
            type="button"
            id="sign-out"
            onClick={() => void api.signOut().then(() => (setOpen(undefined), setSignedIn(false)))}
          >
            {t('threads.signOut')}
          </button>
        )}
      </header>
      <main>
        {!signedIn ? (
          <SignIn api={api} done={() => setSignedIn(true)} />
        ) : !me ? (
          <p role="status">{t('threads.loading')}</p>
        ) : open ? (
          <Thread api={api} me={me} conversation={open} back={() => setOpen(undefined)} />
        ) : (
          <ConversationList api={api} open={setOpen} />
        )}
      </main>
    </>
  );
}
