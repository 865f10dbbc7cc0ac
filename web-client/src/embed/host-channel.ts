import {
  WIDGET_MESSAGE_SOURCE,
  type FrameToHost,
  type HostCommand,
  type HostToFrame,
  type WidgetEventData,
  type WidgetEventName,
} from './messages.ts';

const COMMANDS: ReadonlySet<string> = new Set<HostCommand>(['join', 'leave']);

/**
 * The frame's side of the conversation with the embedding page: events go to the host origin the
 * server validated for this page (never '*'), commands are taken only from the parent window of
 * that origin. The frame shows nothing to anyone else, so a page that wraps it cannot listen in.
 */
export class HostChannel {
  readonly #listeners = new Set<(command: HostCommand) => void>();

  constructor(
    private readonly hostOrigin: string,
    private readonly parent: Window,
    self: Window,
  ) {
    self.addEventListener('message', (e: MessageEvent) => {
      if (e.origin !== this.hostOrigin || e.source !== this.parent) return;
      const m = e.data as Partial<HostToFrame> | null;
      if (m?.source !== WIDGET_MESSAGE_SOURCE || m.kind !== 'command' || !COMMANDS.has(String(m.command)))
        return;
      for (const l of this.#listeners) l(m.command!);
    });
  }

  post<E extends WidgetEventName>(event: E, data: WidgetEventData[E]) {
    const message = { source: WIDGET_MESSAGE_SOURCE, kind: 'event', event, data } as FrameToHost;
    this.parent.postMessage(message, this.hostOrigin);
  }

  onCommand(listener: (command: HostCommand) => void) {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }
}
