import type * as UwsTypes from 'uWebSockets.js';

type Res = UwsTypes.HttpResponse;

/** Request body bytes buffered between uWS and the app before the socket stops being read. */
export const REQUEST_BODY_HIGH_WATER_BYTES = 1024 * 1024;

/**
 * The life of one uWS response as the bridge sees it. A uWS response must not be touched once it
 * was aborted or ended (native memory, freed by then), so every use goes through `use`.
 */
export class UwsExchange {
  aborted = false;
  ended = false;
  readonly abort = new AbortController();
  #onAbort: (() => void)[] = [];
  #onRespond: (() => void)[] = [];

  constructor(readonly res: Res) {
    res.onAborted(() => {
      this.aborted = true;
      this.abort.abort();
      for (const f of this.#onAbort) f();
    });
  }

  get usable() {
    return !this.aborted && !this.ended;
  }

  onAbort(f: () => void) {
    this.#onAbort.push(f);
  }

  /** `f` runs once the app has its response, before any of it is written. */
  onRespond(f: () => void) {
    this.#onRespond.push(f);
  }

  responding() {
    for (const f of this.#onRespond.splice(0)) f();
  }

  /** Runs `f` corked, only while the response may still be used. */
  use(f: (res: Res) => void): void {
    if (this.usable) this.res.cork(() => f(this.res));
  }
}

/**
 * The request body as a stream the app reads at its own pace: uWS hands over chunks as they arrive
 * (copied: uWS reuses their memory), and once about a megabyte waits unread, the socket is paused
 * until the app pulls again, so an upload of any size holds a bounded amount of memory. An
 * aborted request errors the stream (the upload store keeps what it got, for a resume).
 */
export function requestBodyStream(x: UwsExchange): ReadableStream<Uint8Array> {
  let paused = false;
  let done = false;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        if (paused && x.usable) {
          paused = false;
          x.res.resume();
        }
      },
      cancel() {
        // The app stopped reading (it answered early): let uWS read the rest and drop it.
        done = true;
        if (paused && x.usable) {
          paused = false;
          x.res.resume();
        }
      },
    },
    { highWaterMark: REQUEST_BODY_HIGH_WATER_BYTES, size: (chunk) => chunk.byteLength },
  );
  x.onAbort(() => {
    if (done) return;
    done = true;
    controller.error(new Error('request aborted by the client'));
  });
  // An app that answers before reading the whole body is done with it (as node:http does, the
  // rest is read and dropped): a paused socket would otherwise hold the connection until it times out.
  x.onRespond(() => {
    if (done) return;
    done = true;
    controller.error(new Error('the response was sent before the request body was read'));
    if (paused && x.usable) {
      paused = false;
      x.res.resume();
    }
  });
  x.res.onData((chunk, isLast) => {
    if (done) return;
    if (chunk.byteLength) controller.enqueue(new Uint8Array(chunk.slice(0)));
    if (isLast) {
      done = true;
      controller.close();
    } else if (!paused && (controller.desiredSize ?? 1) <= 0) {
      paused = true;
      x.res.pause();
    }
  });
  return stream;
}

/** Headers uWS writes itself (length, framing) or that need one line each (cookies). */
const OWN_HEADERS = new Set(['content-length', 'transfer-encoding', 'set-cookie']);

function writeHead(res: Res, response: Response) {
  res.writeStatus(`${response.status} ${response.statusText || ''}`.trim());
  response.headers.forEach((value, name) => {
    if (!OWN_HEADERS.has(name)) res.writeHeader(name, value);
  });
  for (const cookie of response.headers.getSetCookie()) res.writeHeader('set-cookie', cookie);
}

/**
 * Writes the app's response. A body is streamed chunk by chunk as the app produces it, and the
 * next chunk is read only once uWS could hand the previous one to the socket (onWritable), so a
 * download of any size holds about one chunk. With a Content-Length the body goes out with it
 * (tryEnd); without one, chunked. A client that goes away cancels the app's stream.
 */
export async function sendResponse(x: UwsExchange, response: Response, head: boolean): Promise<void> {
  x.responding();
  const body = response.body;
  if (head || !body) {
    await body?.cancel();
    x.use((res) => {
      writeHead(res, response);
      res.end();
    });
    x.ended = true;
    return;
  }
  const declared = response.headers.get('content-length');
  const total = declared !== null && /^\d+$/.test(declared) ? Number(declared) : undefined;
  const reader = body.getReader();
  x.onAbort(() => void reader.cancel().catch(() => {}));
  let waiting: (() => void) | undefined;
  // What uWS could not take yet, and the write offset it started at.
  let pending: { bytes: Uint8Array; offset: number } | undefined;
  const wake = () => {
    const w = waiting;
    waiting = undefined;
    w?.();
  };
  x.res.onWritable((offset) => {
    // Chunked: write() kept the whole chunk, the socket has caught up now.
    if (!pending) return (wake(), true);
    const [ok, finished] = x.res.tryEnd(pending.bytes.subarray(offset - pending.offset), total!);
    if (finished) x.ended = true;
    if (ok) {
      pending = undefined;
      wake();
    }
    return ok;
  });
  x.onAbort(wake);
  x.use((res) => writeHead(res, response));
  let sent = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (x.aborted) return;
      if (done) break;
      if (!value.byteLength) continue;
      if (total !== undefined && sent + value.byteLength > total)
        throw new Error('response body longer than its content-length');
      sent += value.byteLength;
      let full = true;
      x.use((res) => {
        const offset = res.getWriteOffset();
        if (total === undefined) {
          // write() keeps the whole chunk; false means the socket is behind.
          full = res.write(value);
          return;
        }
        const [ok, finished] = res.tryEnd(value, total);
        if (finished) x.ended = true;
        else if (!ok) {
          pending = { bytes: value, offset };
          full = false;
        }
      });
      if (!full && x.usable) await new Promise<void>((resolve) => (waiting = resolve));
    }
    if (total !== undefined && sent !== total)
      throw new Error('response body shorter than its content-length');
    if (total === undefined || total === 0) x.use((res) => res.end());
    x.ended = true;
  } catch (err) {
    // Headers are out: the only honest signal left is a cut connection.
    x.use((res) => res.close());
    x.ended = true;
    await reader.cancel().catch(() => {});
    throw err;
  }
}
