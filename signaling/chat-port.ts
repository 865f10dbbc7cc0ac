import type {
  ChatCatchUp,
  ChatMessageInfo,
  ChatNotifications,
  ChatSendAck,
  JoinClaims,
} from './protocol/index.ts';

/** Where the speaker is in the room when it speaks: waiting participants may only write to the hosts. */
export type ChatPresence = 'admitted' | 'waiting';

/** A live chat event, named as the notification it becomes. */
export type ChatLiveEvent = {
  [N in keyof ChatNotifications]: { method: N; data: ChatNotifications[N] };
}[keyof ChatNotifications];

/**
 * One speaker's chat in one conversation. The implementation decides, stores and audits each call
 * (the server's messaging repository); a refusal or bad input is thrown as a SignalingError with a
 * code (not_allowed, message_too_large, message_empty, rate_limited, not_found, not_editable).
 */
export interface ChatSpeaker {
  readonly conversationId: string;
  send(clientId: string, body: string): Promise<ChatSendAck>;
  catchUp(from: {
    after: number;
    changesAfter?: number;
    limit?: number;
  }): Promise<Omit<ChatCatchUp, 'conversationId'>>;
  history(
    before: number | undefined,
    limit: number,
  ): Promise<{ messages: ChatMessageInfo[]; nextBefore: number | null }>;
  read(seq: number): Promise<{ seq: number }>;
  delivered(seq: number): Promise<{ seq: number }>;
  typing(typing: boolean): Promise<void>;
  edit(id: string, body: string): Promise<ChatMessageInfo>;
  delete(id: string): Promise<void>;
  /** Live events for this speaker (decided once, as a read); the returned function ends them. */
  subscribe(listener: (e: ChatLiveEvent) => void): Promise<() => Promise<void>>;
}

/**
 * How the room tier reaches chat without knowing the server: the room's conversation as the
 * holder of a join token sees it at this moment (presence changes on admission, so ask per call).
 */
export interface RoomChat {
  speaker(claims: JoinClaims, presence: ChatPresence): Promise<ChatSpeaker>;
}
