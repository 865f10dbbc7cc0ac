import type { ChatSpeaker } from './chat-port.ts';
import type { ConversationInfo } from './protocol/index.ts';
import type { LiveChatEvent } from './protocol/livechat.ts';

/** Who a user socket stands for: one sign-in session of one account, until its access token expires. */
export type UserIdentity = { userId: string; sessionId: string; expiresAtMs: number };

/** Why a user socket stops standing for anyone: the close reason it gets. */
export type UserEnded = 'session_revoked' | 'account_disabled';

/** How the user socket reaches the server's identity without knowing it. */
export interface UserAuth {
  /** Synchronous (the upgrade decides inside its handler); throws on a bad or expired token. */
  verify(accessToken: string): UserIdentity;
  /**
   * Whether the session is still live (not revoked, logged out, idle-timed-out, expired) and the
   * account not disabled: undefined if so, else why not. A failed lookup throws (not a revocation).
   * `active`: the user did something on the socket since the last check, which counts against the
   * idle timeout like an API request; an idle socket alone does not keep a session alive.
   */
  check(identity: UserIdentity, active: boolean): Promise<UserEnded | undefined>;
}

/**
 * One user's chat as a user socket sees it: the server's messaging repository (or one per
 * dependent, for a guardian), which decides and audits every call. A refusal or bad input is
 * thrown as a SignalingError with a code, like the room socket's speaker.
 */
export interface UserChatSession {
  /** Every conversation the user may read, with unread counts (audited as a listing). */
  list(): Promise<ConversationInfo[]>;
  /** One conversation's counts, or undefined when the user may not read it. */
  summary(conversationId: string): Promise<ConversationInfo | undefined>;
  /** The user as a speaker in one conversation; every call on it is decided (not_found for non-members). */
  speaker(conversationId: string): ChatSpeaker;
  /**
   * Membership changes from now on: a conversation the user joined (opened by them or by the other
   * side), or undefined when anything about their memberships may have changed (ask list() again).
   */
  watchNew(listener: (conversationId: string | undefined) => void): Promise<() => Promise<void>>;
  /** Live chat events for this user from now on (assigned, transferred, queue place, closed). */
  watchLiveChat?(listener: (e: LiveChatEvent) => void): Promise<() => Promise<void>>;
  /** Loads again who the user speaks as (clinics, the dependents they may act for): before list() after a change. */
  refresh(): Promise<void>;
}

/**
 * An account's user sockets on every node: one slot per socket, at most the per-user limit in all.
 * The server implements it on the cluster's shared store (a dead node's slots run out by themselves).
 */
export interface UserSocketSlots {
  /** False when the account holds every slot already; throws if the store cannot be asked. */
  take(userId: string, socketId: string): Promise<boolean>;
  release(userId: string, socketId: string): void;
}

export interface UserChat {
  open(identity: UserIdentity): Promise<UserChatSession>;
}
