import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, openTestEngine } from '../../test/helpers/engines.ts';
import { ProblemError } from '../api/errors.ts';
import type { LiveEvent } from './chat-repository.ts';
import type { Messaging } from './messaging.ts';
import {
  chatNode,
  guestActor,
  nodeKeys,
  seedClinic,
  userActor,
  type Seed,
} from './test-support/chat-fixture.ts';
import type { CatchUp } from './types.ts';

const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof ProblemError ? err.code : String(err);
  }
};

describe.each(ENGINES)('catch-up of edits and deletes on %s', (engine) => {
  let close: () => Promise<void>;
  let a: Messaging;
  let b: Messaging;
  let s: Seed;
  const keys = nodeKeys();
  const doctor = () => userActor(s.doctorId, 'doctor', [s.clinicId], 'admitted');
  const patient = (presence: 'admitted' | 'waiting' = 'admitted') =>
    userActor(s.patientId, 'patient', [s.clinicId], presence);

  beforeAll(async () => {
    const t = await openTestEngine(engine);
    close = t.close;
    a = (await chatNode(t.handle.db, keys)).messaging;
    b = (await chatNode(t.handle.db, keys)).messaging;
    s = await seedClinic(t.handle.db);
  });
  afterAll(() => close?.());

  /** Every page from a client's watermarks, as a client pages until `more` is false. */
  async function catchUpAll(m: Messaging, conv: string, after: number, changesAfter: number, limit?: number) {
    const pages: CatchUp[] = [];
    for (;;) {
      const page = await m.forActor(patient()).catchUp(conv, {
        after,
        changesAfter,
        ...(limit ? { limit } : {}),
      });
      pages.push(page);
      after = page.through;
      changesAfter = page.changesThrough;
      if (!page.more) return { pages, after, changesAfter };
    }
  }

  it('a client that was away gets the new messages and the edits and deletes of the older ones, in change order', async () => {
    const conv = (await a.forActor(doctor()).roomConversation(s.appointmentId)).id;
    const d = a.forActor(doctor());
    const old = [];
    for (const text of ['one', 'two', 'three', 'four'])
      old.push(await d.send(conv, { id: randomUUID(), body: text }));
    // The patient holds everything so far, and every change so far.
    const start = await b.forActor(patient()).catchUp(conv, { after: 0 });
    expect(start.messages.map((m) => m.body)).toEqual(['one', 'two', 'three', 'four']);
    expect(start).toMatchObject({ through: old[3]!.seq, changes: [], more: false });
    const watermark = start.changesThrough;

    // While the patient is away: two edits of one old message, a delete of another, a new message, an edit of the new one.
    await d.edit(conv, old[1]!.id, 'two (fixed)');
    await d.delete(conv, old[2]!.id);
    await d.edit(conv, old[1]!.id, 'two (fixed again)');
    const fresh = await d.send(conv, { id: randomUUID(), body: 'five' });
    await d.edit(conv, fresh.id, 'five!');

    const back = await b.forActor(patient()).catchUp(conv, { after: old[3]!.seq, changesAfter: watermark });
    expect(back.messages.map((m) => [m.seq, m.body, m.edited])).toEqual([[fresh.seq, 'five!', true]]);
    expect(back.changes.map((m) => [m.seq, m.body, m.edited, m.deleted])).toEqual([
      [old[2]!.seq, null, false, true],
      [old[1]!.seq, 'two (fixed again)', true, false],
    ]);
    expect(back.changes.map((m) => m.change)).toEqual([watermark + 2, watermark + 3]);
    expect(back).toMatchObject({ through: fresh.seq, changesThrough: watermark + 4, more: false });

    // From the new watermarks there is nothing more.
    const again = await a
      .forActor(patient())
      .catchUp(conv, { after: back.through, changesAfter: back.changesThrough });
    expect(again).toMatchObject({ messages: [], changes: [], more: false });
  });

  it('pages: many changes and messages come in full pages until `more` is false, each once', async () => {
    const conv = (await a.forActor(doctor()).roomConversation(s.dependentAppointmentId)).id;
    const p = a.forActor(doctor());
    const sent = [];
    for (let i = 0; i < 12; i++) sent.push(await p.send(conv, { id: randomUUID(), body: `m${i}` }));
    const held = sent[9]!.seq;
    const start = await a.forActor(doctor()).catchUp(conv, { after: 0 });
    for (let i = 0; i < 9; i++) await p.edit(conv, sent[i]!.id, `m${i} edited`);
    for (let i = 0; i < 3; i++) await p.send(conv, { id: randomUUID(), body: `late${i}` });

    const pages: CatchUp[] = [];
    let after = held;
    let changesAfter = start.changesThrough;
    for (;;) {
      const page = await b.forActor(doctor()).catchUp(conv, { after, changesAfter, limit: 4 });
      pages.push(page);
      after = page.through;
      changesAfter = page.changesThrough;
      if (!page.more) break;
    }
    const changed = pages.flatMap((x) => x.changes.map((m) => m.body));
    expect(changed).toEqual(Array.from({ length: 9 }, (_, i) => `m${i} edited`));
    const news = pages.flatMap((x) => x.messages.map((m) => m.body));
    expect(news).toEqual(['m10', 'm11', 'late0', 'late1', 'late2']);
    expect(pages.length).toBeGreaterThan(2);
    expect(pages.at(-1)).toMatchObject({ more: false });
  });

  // One node: without a bus, live events stay in their process.
  it('live edits carry gap-free change numbers; an edit of a hosts-only message reaches only who sees the message', async () => {
    const conv = (await a.forActor(doctor()).roomConversation(s.appointmentId)).id;
    const seen = { host: [] as LiveEvent[], guest: [] as LiveEvent[] };
    const stopHost = await a.forActor(doctor()).subscribe(conv, (e) => seen.host.push(e));
    const stopGuest = await a
      .forActor(guestActor(s.guestId, s.appointmentId))
      .subscribe(conv, (e) => seen.guest.push(e));
    const waiting = a.forActor(patient('waiting'));
    const knock = await waiting.send(conv, { id: randomUUID(), body: 'camera broken' });
    await waiting.edit(conv, knock.id, 'camera broken, mic works');
    const open = await a.forActor(doctor()).send(conv, { id: randomUUID(), body: 'hello all' });
    await a.forActor(doctor()).delete(conv, open.id);
    const until = async (f: () => boolean) => {
      for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
    };
    await until(() => seen.host.filter((e) => e.type === 'deleted').length > 0);
    await until(() => seen.guest.filter((e) => e.type === 'deleted').length > 0);
    await stopHost();
    await stopGuest();
    const changes = (list: LiveEvent[]) =>
      list.flatMap((e) => (e.type === 'edited' || e.type === 'deleted' ? [[e.type, e.id, e.change]] : []));
    const hostChanges = changes(seen.host);
    expect(hostChanges.map((x) => x.slice(0, 2))).toEqual([
      ['edited', knock.id],
      ['deleted', open.id],
    ]);
    expect(Number(hostChanges[1]![2])).toBe(Number(hostChanges[0]![2]) + 1);
    // The guest never saw the hosts-only message, so neither its edit.
    expect(changes(seen.guest).map((x) => x.slice(0, 2))).toEqual([['deleted', open.id]]);
  });

  it('bad watermarks are typed errors; a waiting participant cannot catch up', async () => {
    const conv = (await a.forActor(doctor()).roomConversation(s.appointmentId)).id;
    expect(await code(a.forActor(patient()).catchUp(conv, { after: -1 }))).toBe('invalid_request');
    expect(await code(a.forActor(patient()).catchUp(conv, { after: 0, changesAfter: 1.5 }))).toBe(
      'invalid_request',
    );
    expect(await code(a.forActor(patient('waiting')).catchUp(conv, { after: 0 }))).toBe('forbidden');
    const all = await catchUpAll(a, conv, 0, 0);
    expect(all.pages.at(-1)).toMatchObject({ more: false });
  });
});
