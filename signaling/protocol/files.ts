import { z } from 'zod';

/**
 * Files travel over HTTP (tus uploads, download links), never over the room socket. A room
 * participant holds a join token, not an API access token: the socket hands an admitted member a
 * short-lived credential for the room's conversation only, to send as `Authorization: Room <token>`.
 */
export const fileRequestSchemas = {
  'files.grant': z.object({}),
} as const;

export type FileMethod = keyof typeof fileRequestSchemas;

export { fileIdOf, fileMessageBody } from './file-message.ts';

/** A credential for the room conversation's files, valid until `expiresAt` (ask again before it ends). */
export type RoomFileGrant = { conversationId: string; token: string; expiresAt: string };

export type FileResponses = {
  'files.grant': RoomFileGrant;
};
