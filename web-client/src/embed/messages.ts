/**
 * What the CareCall frame and the loader on the clinic's page say to each other over postMessage.
 * Types only (the loader must stay one self-contained file): both sides spell the literals, the
 * compiler checks they agree. The frame posts only to the host origin it was opened for; the
 * loader accepts only messages from CareCall's origin and from its own frame's window.
 */
export const WIDGET_MESSAGE_SOURCE = 'carecall-widget' as const;

/** Events the embedding page can listen to (`frame.on(name, listener)`). */
export type WidgetEventName = 'ready' | 'joined' | 'admitted' | 'left' | 'ended' | 'error';
export type WidgetEventData = {
  ready: Record<string, never>;
  joined: Record<string, never>;
  admitted: Record<string, never>;
  left: Record<string, never>;
  /** Why the call ended: one of the room's close reasons (ended_by_host, removed_by_host, denied, …). */
  ended: { reason: string };
  /** A problem code (widget_token_expired, not_joinable, …) or a short machine reason; no PHI. */
  error: { code: string; message: string };
};

export type FrameToHost = {
  [E in WidgetEventName]: {
    source: typeof WIDGET_MESSAGE_SOURCE;
    kind: 'event';
    event: E;
    data: WidgetEventData[E];
  };
}[WidgetEventName];

export type HostCommand = 'join' | 'leave';
export type HostToFrame = { source: typeof WIDGET_MESSAGE_SOURCE; kind: 'command'; command: HostCommand };

/** What the server put into the page (server/embed/pages.ts writes the same shape). */
export type EmbedBoot =
  | { refused: 'origin' | 'expired' | 'invalid' | 'no_session' }
  | { session: string; hostOrigin: string; accentColor: string | null; logoText: string | null };
