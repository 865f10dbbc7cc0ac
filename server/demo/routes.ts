import { Hono } from 'hono';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { DemoConsultation } from './demo-consultation.ts';

export type DemoRoom = { key: string };

/**
 * Demo links that never expire: each visit asks for a fresh join token of the demo doctor or
 * patient into the demo consultation open now (a real appointment, booked if need be) and
 * redirects to the pre-call check. The unguessable key keeps strangers on the same network out.
 */
export function demoRoutes(demo: DemoRoom, consultation: DemoConsultation) {
  return new Hono().get('/demo/:key/:who', async (c) => {
    const who = c.req.param('who');
    if (c.req.param('key') !== demo.key || (who !== 'doctor' && who !== 'patient')) {
      throw new ProblemError(404, PROBLEM.notFound, 'no such demo link');
    }
    const ticket = await consultation.ticket(who);
    // Through the pre-call check first: devices picked there are carried into the call.
    return c.redirect(`/app/precall.html#token=${encodeURIComponent(ticket.token)}`, 302);
  });
}

export function demoLinks(baseUrl: string, demo: DemoRoom) {
  return {
    doctor: `${baseUrl}/demo/${demo.key}/doctor`,
    patient: `${baseUrl}/demo/${demo.key}/patient`,
  };
}
