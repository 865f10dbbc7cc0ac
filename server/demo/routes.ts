import { Hono } from 'hono';
import { ProblemError } from '../api/errors.ts';
import type { JoinTokenIssuer } from '../media/join-tokens.ts';
import { PROBLEM } from '../api/problem-codes.ts';

export type DemoRoom = { roomId: string; key: string };

const PARTICIPANTS = {
  doctor: {
    sub: 'demo-doctor',
    role: 'doctor',
    name: 'Dr. Demo',
    perms: ['publish', 'subscribe', 'admit', 'moderate'],
  },
  patient: { sub: 'demo-patient', role: 'patient', name: 'Demo Patient', perms: ['publish', 'subscribe'] },
} as const;

/**
 * Demo links that never expire: each visit mints a fresh short-lived join token and redirects to
 * the room page. The unguessable key keeps strangers on the same network out of the demo room.
 */
export function demoRoutes(demo: DemoRoom, issuer: JoinTokenIssuer) {
  return new Hono().get('/demo/:key/:who', async (c) => {
    const who = c.req.param('who');
    if (c.req.param('key') !== demo.key || (who !== 'doctor' && who !== 'patient')) {
      throw new ProblemError(404, PROBLEM.notFound, 'no such demo link');
    }
    const p = PARTICIPANTS[who];
    const token = await issuer.mint({
      sub: p.sub,
      room: demo.roomId,
      role: p.role,
      name: p.name,
      perms: [...p.perms],
    });
    // Through the pre-call check first: devices picked there are carried into the call.
    return c.redirect(`/app/precall.html#token=${encodeURIComponent(token)}`, 302);
  });
}

export function demoLinks(baseUrl: string, demo: DemoRoom) {
  return {
    doctor: `${baseUrl}/demo/${demo.key}/doctor`,
    patient: `${baseUrl}/demo/${demo.key}/patient`,
  };
}
