import type { ConnectionHandler, SocketConnection } from './socket.ts';
import type { Session } from './session.ts';
import {
  closeCode,
  MAX_FRAME_BYTES,
  requestFrameSchema,
  requestSchemas,
  type ErrorBody,
  type Method,
} from './protocol/index.ts';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Parses and checks frames at the edge, then hands valid requests to the session. */
export function connectionHandler(connection: SocketConnection, session: Session): ConnectionHandler {
  const sendError = (error: ErrorBody) => session.sendError(connection, error);
  return {
    onMessage(data, isBinary) {
      if (data.byteLength > MAX_FRAME_BYTES) {
        return sendError({
          code: 'frame_too_large',
          message: `frames are limited to ${MAX_FRAME_BYTES} bytes`,
        });
      }
      if (isBinary) return sendError({ code: 'bad_frame', message: 'binary frames are not supported' });
      let json: unknown;
      try {
        json = JSON.parse(decoder.decode(data));
      } catch {
        return sendError({ code: 'bad_frame', message: 'frame is not valid UTF-8 JSON' });
      }
      const frame = requestFrameSchema.safeParse(json);
      if (!frame.success) {
        const id = (json as { id?: unknown } | null)?.id;
        const error: ErrorBody = {
          code: 'bad_frame',
          message: 'expected {type:"request", id, method, data}',
        };
        return typeof id === 'number' ? session.respondError(id, error) : sendError(error);
      }
      const { id, method, data: body } = frame.data;
      if (!Object.hasOwn(requestSchemas, method)) {
        return session.respondError(id, {
          code: 'unknown_method',
          message: `unknown method "${method.slice(0, 64)}"`,
        });
      }
      session.request(id, method as Method, body ?? {});
    },
    onClose(code) {
      session.detach(connection, code === closeCode('client_left'));
    },
    onDrain() {
      session.flushSnapshots();
    },
  };
}
