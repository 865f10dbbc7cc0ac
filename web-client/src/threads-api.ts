import type { ChatMessageInfo, ChatSendAck } from '../../signaling/protocol/index.ts';

/** A conversation in my list (GET /api/conversations). */
export type ConversationSummary = {
  id: string;
  kind: 'room' | 'care';
  clinicId: string;
  appointmentId: string | null;
  doctorId: string;
  patientId: string;
  lastSeq: number;
  readSeq: number;
  unread: number;
};

export type SignInStep =
  | { mfaRequired: true; challengeId: string; method: 'email' | 'sms' | 'totp'; destination: string | null }
  | { mfaRequired?: false; accessToken: string; refreshToken: string };

type Tokens = { accessToken: string; refreshToken: string };

/** A refusal of the API (problem+json), with its code for the page to put in words. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    detail: string,
  ) {
    super(detail);
  }
}

/** Where the tokens live: memory, and the tab's sessionStorage so a reload keeps the sign-in (never a URL). */
export interface TokenStore {
  load(): Tokens | undefined;
  save(tokens: Tokens | undefined): void;
}

/**
 * The HTTP API as the threads page uses it: sign-in with the second factor, my conversations,
 * history by cursor, send, read receipts. A 401 refreshes the token pair once and retries.
 */
export class ThreadsApi {
  #tokens: Tokens | undefined;

  constructor(private readonly store: TokenStore) {
    this.#tokens = store.load();
  }

  get signedIn() {
    return this.#tokens !== undefined;
  }
  get accessToken() {
    return this.#tokens?.accessToken ?? '';
  }

  async signIn(email: string, password: string): Promise<SignInStep> {
    const step = await this.#json<SignInStep>('POST', '/api/auth/login', { email, password }, false);
    if (!step.mfaRequired) this.#keep(step);
    return step;
  }

  async secondFactor(challengeId: string, code: string): Promise<void> {
    this.#keep(await this.#json<Tokens>('POST', '/api/auth/mfa', { challengeId, code }, false));
  }

  async signOut() {
    await this.#json('POST', '/api/auth/logout', {}).catch(() => undefined);
    this.#keep(undefined);
  }

  me() {
    return this.#json<{ id: string; role: string; displayName: string }>('GET', '/api/me');
  }

  async conversations(): Promise<ConversationSummary[]> {
    return (await this.#json<{ conversations: ConversationSummary[] }>('GET', '/api/conversations'))
      .conversations;
  }

  /** One page of history, newest first, before the cursor. */
  history(conversationId: string, before?: number, limit = 30) {
    const q = new URLSearchParams({ limit: String(limit), ...(before ? { before: String(before) } : {}) });
    return this.#json<{ messages: ChatMessageInfo[]; nextBefore: number | null }>(
      'GET',
      `/api/conversations/${conversationId}/messages?${q}`,
    );
  }

  /** Everything after `seq`, oldest first (what arrived since the page was last drawn). */
  async after(conversationId: string, seq: number) {
    return (
      await this.#json<{ messages: ChatMessageInfo[] }>(
        'GET',
        `/api/conversations/${conversationId}/messages?after=${seq}&limit=200`,
      )
    ).messages;
  }

  send(conversationId: string, id: string, body: string) {
    return this.#json<ChatSendAck>('POST', `/api/conversations/${conversationId}/messages`, { id, body });
  }

  markRead(conversationId: string, seq: number) {
    return this.#json('POST', `/api/conversations/${conversationId}/read`, { seq });
  }

  #keep(tokens: Tokens | undefined) {
    this.#tokens = tokens;
    this.store.save(tokens);
  }

  async #json<T>(method: string, path: string, body?: unknown, auth = true, retried = false): Promise<T> {
    const headers: Record<string, string> = {};
    if (auth && this.#tokens) headers.authorization = `Bearer ${this.#tokens.accessToken}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (res.status === 401 && auth && !retried && this.#tokens && (await this.#refresh()))
      return this.#json(method, path, body, auth, true);
    const text = await res.text();
    const data = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (!res.ok)
      throw new ApiError(
        String(data.code ?? 'http_error'),
        res.status,
        String(data.detail ?? res.statusText),
      );
    return data as T;
  }

  async #refresh(): Promise<boolean> {
    const res = await fetch('/api/auth/refresh', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: this.#tokens!.refreshToken }),
    });
    if (!res.ok) {
      this.#keep(undefined);
      return false;
    }
    this.#keep((await res.json()) as Tokens);
    return true;
  }
}
