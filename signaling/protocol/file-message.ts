// No zod here: the browser bundles this module, and zod's compiled parsers need eval, which the
// pages' Content-Security-Policy refuses.

/**
 * A file message: a chat message whose whole body is exactly this JSON, naming one file of the same
 * conversation (sent once its upload has completed). Any other body is text, shown as written. The
 * server stores a file message only when its file is complete and belongs to the conversation, and
 * never lets an edit turn a message into one or change one.
 */
const FILE_MESSAGE_BODY = /^\{"file":"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"\}$/;
export const fileMessageBody = (fileId: string) => JSON.stringify({ file: fileId });
/** The file a message body names, or undefined when the body is text. */
export const fileIdOf = (body: string | null | undefined): string | undefined =>
  typeof body === 'string' ? FILE_MESSAGE_BODY.exec(body)?.[1] : undefined;
