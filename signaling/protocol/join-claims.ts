import { z } from 'zod';
import { ROOM_CAPACITY_LIMIT } from './limits.ts';

export const roles = ['doctor', 'patient', 'guest'] as const;
export const permissions = ['publish', 'subscribe', 'admit', 'moderate'] as const;

/** What a join token grants: one identity in one room, with a role and permissions. */
export const joinClaimsSchema = z.object({
  sub: z.string().min(1).max(128),
  room: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  role: z.enum(roles),
  perms: z.array(z.enum(permissions)),
  name: z.string().max(64).optional(),
  /** Participants the room admits, from the consultation's type (absent: MAX_ROOM_PARTICIPANTS). */
  cap: z.number().int().min(2).max(ROOM_CAPACITY_LIMIT).optional(),
});

export type JoinClaims = z.infer<typeof joinClaimsSchema>;
export type Role = JoinClaims['role'];
export type Permission = JoinClaims['perms'][number];
