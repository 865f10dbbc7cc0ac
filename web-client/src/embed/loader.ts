import type { FrameToHost, HostCommand, HostToFrame, WidgetEventData, WidgetEventName } from './messages.ts';

/**
 * /embed/widget.js: the one script a clinic puts on its own site. It runs inside someone else's
 * page, so it stays a single small file with no framework (Preact would be most of the 10 kB
 * budget and could meet another copy on the host page): it builds exactly one iframe, the form
 * that opens it and, in button mode, one button, with plain DOM calls, and nothing else.
 *
 *   <script src="https://carecall.example/embed/widget.js" data-clinic="…"
 *           data-session-url="/my-backend/carecall-session" data-mode="button"></script>
 *
 * or in code: CareCall.createFrame({ parent, sessionToken }) → join(), leave(), destroy(), on().
 */
(() => {
  const SOURCE = 'carecall-widget';
  const script = document.currentScript as HTMLScriptElement | null;
  const CARECALL_ORIGIN = new URL(script?.src || location.href).origin;
  let frames = 0;

  type Listener<E extends WidgetEventName> = (data: WidgetEventData[E]) => void;
  type FrameOptions = {
    parent: HTMLElement;
    /** A widget session token the host page's backend minted (POST /api/widget/sessions). */
    sessionToken?: string;
    /** Or where to fetch one: the host's own backend answers { token } (fetched with POST, same-origin credentials). */
    sessionUrl?: string;
    clinic?: string;
    /** CareCall's origin, when the loader was not loaded from it. */
    origin?: string;
    width?: string;
    height?: string;
  };

  async function sessionOf(o: FrameOptions): Promise<string> {
    if (o.sessionToken) return o.sessionToken;
    if (!o.sessionUrl) throw new Error('CareCall: give sessionToken or sessionUrl');
    const res = await fetch(o.sessionUrl, { method: 'POST', credentials: 'same-origin' });
    const body = (await res.json()) as { token?: string };
    if (!res.ok || !body.token) throw new Error(`CareCall: the session URL answered ${res.status}`);
    return body.token;
  }

  class CareCallFrame {
    readonly iframe: HTMLIFrameElement;
    readonly #origin: string;
    readonly #listeners = new Map<string, Set<(data: unknown) => void>>();
    #ready = false;
    #pending: HostCommand | undefined;
    #destroyed = false;

    constructor(private readonly opts: FrameOptions) {
      this.#origin = opts.origin ? new URL(opts.origin).origin : CARECALL_ORIGIN;
      const iframe = (this.iframe = document.createElement('iframe'));
      iframe.name = `carecall-frame-${++frames}-${Math.random().toString(36).slice(2)}`;
      iframe.title = 'Video consultation';
      // allow="camera; microphone; display-capture", each named for CareCall's origin: the bare form
      // means "the origin of src", and this frame has no src (a form POST navigates it).
      iframe.allow = ['camera', 'microphone', 'display-capture']
        .map((f) => `${f} ${this.#origin}`)
        .join('; ');
      iframe.style.border = '0';
      iframe.style.width = opts.width ?? '100%';
      iframe.style.height = opts.height ?? '600px';
      window.addEventListener('message', this.#onMessage);
      opts.parent.appendChild(iframe);
      void this.#open().catch((err: Error) =>
        this.#emit('error', { code: 'session_unavailable', message: err.message }),
      );
    }

    /** The page is opened by a form POST: the widget token travels in the body, never in a URL. */
    async #open() {
      const token = await sessionOf(this.opts);
      if (this.#destroyed) return;
      const form = document.createElement('form');
      form.method = 'POST';
      form.action = `${this.#origin}/embed/consult.html`;
      form.target = this.iframe.name;
      form.style.display = 'none';
      const fields: Record<string, string> = {
        session: token,
        origin: location.origin,
        clinic: this.opts.clinic ?? '',
      };
      for (const [name, value] of Object.entries(fields)) {
        const input = document.createElement('input');
        input.type = 'hidden';
        input.name = name;
        input.value = value;
        form.appendChild(input);
      }
      document.body.appendChild(form);
      form.submit();
      form.remove();
    }

    readonly #onMessage = (e: MessageEvent) => {
      if (e.origin !== this.#origin || e.source !== this.iframe.contentWindow) return;
      const m = e.data as Partial<FrameToHost> | null;
      if (!m || m.source !== SOURCE || m.kind !== 'event' || typeof m.event !== 'string') return;
      if (m.event === 'ready') {
        this.#ready = true;
        if (this.#pending) this.#command(this.#pending);
        this.#pending = undefined;
      }
      this.#emit(m.event, m.data ?? {});
    };

    #emit(event: string, data: unknown) {
      for (const l of this.#listeners.get(event) ?? []) l(data);
      this.opts.parent.dispatchEvent(new CustomEvent(`carecall:${event}`, { detail: data, bubbles: true }));
    }

    #command(command: HostCommand) {
      if (!this.#ready) return void (this.#pending = command);
      const message: HostToFrame = { source: SOURCE, kind: 'command', command };
      this.iframe.contentWindow?.postMessage(message, this.#origin);
    }

    /** Skip to the call (the patient can also press Join in the frame); waits for the frame to be ready. */
    join() {
      this.#command('join');
    }
    leave() {
      this.#command('leave');
    }
    on<E extends WidgetEventName>(event: E, listener: Listener<E>) {
      const set = this.#listeners.get(event) ?? new Set();
      set.add(listener as (data: unknown) => void);
      this.#listeners.set(event, set);
      return this;
    }
    off<E extends WidgetEventName>(event: E, listener: Listener<E>) {
      this.#listeners.get(event)?.delete(listener as (data: unknown) => void);
      return this;
    }
    destroy() {
      if (this.#destroyed) return;
      this.#destroyed = true;
      window.removeEventListener('message', this.#onMessage);
      this.#listeners.clear();
      this.iframe.remove();
    }
  }

  const api = {
    createFrame: (opts: FrameOptions) => new CareCallFrame(opts),
    frames: [] as CareCallFrame[],
  };
  (window as unknown as { CareCall: typeof api }).CareCall = api;

  // One script tag, configured by data attributes: an inline frame or a button that opens one.
  const d = script?.dataset;
  if (!script || !d || (!d.sessionToken && !d.sessionUrl)) return;
  const options = (parent: HTMLElement): FrameOptions => ({
    parent,
    ...(d.sessionToken ? { sessionToken: d.sessionToken } : {}),
    ...(d.sessionUrl ? { sessionUrl: d.sessionUrl } : {}),
    ...(d.clinic ? { clinic: d.clinic } : {}),
    ...(d.height ? { height: d.height } : {}),
  });
  const holder = document.createElement('div');
  holder.className = 'carecall-widget';
  script.after(holder);
  if (d.mode !== 'button') {
    api.frames.push(api.createFrame(options(holder)));
    return;
  }
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'carecall-button';
  button.textContent = d.label || 'Start a video consultation';
  Object.assign(button.style, {
    padding: '0.7em 1.2em',
    border: '0',
    borderRadius: '6px',
    cursor: 'pointer',
    background: '#3fb37f',
    color: '#08110c',
    font: 'inherit',
    fontWeight: '600',
  });
  holder.appendChild(button);
  // The clinic's colour and name (CORS: answered only to the clinic's allowed origins).
  if (d.clinic)
    void fetch(`${CARECALL_ORIGIN}/api/widget/clinics/${encodeURIComponent(d.clinic)}/appearance`, {
      credentials: 'omit',
    })
      .then((r) => (r.ok ? r.json() : {}))
      .then((a: { accentColor?: string | null; logoText?: string | null }) => {
        if (a.accentColor) button.style.background = a.accentColor;
        if (a.logoText) button.title = a.logoText;
      })
      .catch(() => undefined);
  button.addEventListener('click', () => {
    button.hidden = true;
    api.frames.push(api.createFrame(options(holder)));
  });
})();
