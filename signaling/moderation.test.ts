import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode } from '../test/helpers/node.ts';
import { fakeRtpParameters, mintFor, newRoomId, patientPerms } from '../test/helpers/tokens.ts';
import { connectClient, type TestClient } from '../test/helpers/ws-client.ts';
import {
  closeCode,
  WAITING_MESSAGE_BURST,
  WAITING_MESSAGE_MAX_CHARS,
  type JoinClaims,
  type ParticipantInfo,
  type WaitingStatus,
} from './protocol/index.ts';

let t: Awaited<ReturnType<typeof startTestNode>>;
const clients: TestClient[] = [];
beforeAll(async () => {
  t = await startTestNode();
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await t.node.stop();
});

const hostClaims: Partial<JoinClaims> = {
  role: 'doctor',
  name: 'Dr. Host',
  perms: ['publish', 'subscribe', 'admit', 'moderate'],
};
const patientClaims: Partial<JoinClaims> = { role: 'patient', name: 'Pat', perms: patientPerms };

async function connect(room: string, sub: string, over: Partial<JoinClaims>) {
  const c = await connectClient(t.wsUrl, await mintFor(t.node, room, sub, over));
  clients.push(c);
  return c;
}
async function enter(room: string, sub: string, over: Partial<JoinClaims>) {
  const c = await connect(room, sub, over);
  const { rtpCapabilities } = await c.request('getRouterRtpCapabilities', {});
  const joined = await c.request('join', { rtpCapabilities: rtpCapabilities as never });
  return { c, joined };
}
/** A doctor in the room and a patient admitted by them. */
async function consultation() {
  const room = newRoomId();
  const doctor = await enter(room, 'doc', hostClaims);
  const patient = await enter(room, 'pat', patientClaims);
  await doctor.c.request('admit', { peerId: 'pat' });
  await patient.c.waitFor('admitted');
  return { room, doctor: doctor.c, patient: patient.c };
}
async function produce(c: TestClient, kind: 'audio' | 'video', source: 'mic' | 'webcam' | 'screen') {
  const tr = await c.request('createTransport', { direction: 'send' });
  return c.request('produce', {
    transportId: tr.id,
    kind,
    rtpParameters: fakeRtpParameters(kind) as never,
    source,
  });
}
const lastOf = <T>(c: TestClient, method: 'participants' | 'waitingStatus') =>
  c.notifications.filter((n) => n.method === method).at(-1)?.data as T | undefined;
async function until<T>(read: () => T | undefined, ok: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = read();
    if (v !== undefined && ok(v)) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never saw ${what}; last: ${JSON.stringify(read())}`);
}
const row = (c: TestClient, peerId: string) => c.roster.participants.find((p) => p.peerId === peerId);
/** The list as the client keeps it from the join answer and the change frames. */
const listOf = (c: TestClient) => ({ participants: c.roster.participants });

describe('participant list', () => {
  it('every admitted member gets the list with roles, host flags and mute state; waiting ones get none', async () => {
    const room = newRoomId();
    const doctor = await enter(room, 'doc', hostClaims);
    expect(doctor.joined.participants).toEqual([
      {
        peerId: 'doc',
        role: 'doctor',
        displayName: 'Dr. Host',
        host: true,
        mic: 'none',
        webcam: 'none',
        screen: 'none',
      },
    ]);
    const patient = await enter(room, 'pat', patientClaims);
    expect(patient.joined.participants).toEqual([]);
    expect(patient.c.notifications.some((n) => n.method === 'participants')).toBe(false);
    await doctor.c.request('admit', { peerId: 'pat' });
    const [state] = (await patient.c.waitFor('admitted')) as { participants: ParticipantInfo[] }[];
    expect(state!.participants.map((p) => [p.peerId, p.role, p.host])).toEqual([
      ['doc', 'doctor', true],
      ['pat', 'patient', false],
    ]);
    const mic = await produce(patient.c, 'audio', 'mic');
    await until(
      () => row(doctor.c, 'pat'),
      (r) => r.mic === 'live',
      'the patient live',
    );
    await patient.c.request('pauseProducer', { producerId: mic.producerId });
    await until(
      () => row(doctor.c, 'pat'),
      (r) => r.mic === 'muted',
      'the patient muted',
    );
    await until(
      () => row(patient.c, 'pat'),
      (r) => r.mic === 'muted',
      'the patient muted in their own list',
    );
    patient.c.close();
    await until(
      () => listOf(doctor.c),
      (l) => l.participants.length === 1,
      'the patient gone',
    );
  });
});

describe('host mute', () => {
  it('a host mutes audio; the patient is told and may unmute themselves', async () => {
    const { doctor, patient } = await consultation();
    const mic = await produce(patient, 'audio', 'mic');
    expect(await doctor.request('muteParticipant', { peerId: 'pat', source: 'mic' })).toEqual({ muted: 1 });
    expect(await patient.waitFor('mutedBy')).toEqual([
      { producerId: mic.producerId, by: 'doc', source: 'mic', selfUnmute: true },
    ]);
    expect(
      (
        await until(
          () => row(doctor, 'pat'),
          (r) => r.mic !== 'live',
          'mute',
        )
      ).mic,
    ).toBe('muted');
    await patient.request('resumeProducer', { producerId: mic.producerId });
    await until(
      () => row(doctor, 'pat'),
      (r) => r.mic === 'live',
      'unmuted by the patient',
    );
    // Muting again a microphone that is already muted changes nothing.
    await patient.request('pauseProducer', { producerId: mic.producerId });
    expect(await doctor.request('muteParticipant', { peerId: 'pat', source: 'mic' })).toEqual({ muted: 0 });
  });

  it('a host stops the camera: the patient cannot turn it on (or publish another) until a host releases it', async () => {
    const { doctor, patient } = await consultation();
    const cam = await produce(patient, 'video', 'webcam');
    expect(await doctor.request('muteParticipant', { peerId: 'pat', source: 'webcam' })).toEqual({
      muted: 1,
    });
    expect(await patient.waitFor('mutedBy')).toEqual([
      { producerId: cam.producerId, by: 'doc', source: 'webcam', selfUnmute: false },
    ]);
    await until(
      () => row(doctor, 'pat'),
      (r) => r.webcam === 'muted_by_host',
      'camera held by the host',
    );
    await expect(patient.request('resumeProducer', { producerId: cam.producerId })).rejects.toMatchObject({
      code: 'muted_by_host',
    });
    await patient.request('closeProducer', { producerId: cam.producerId });
    await expect(produce(patient, 'video', 'webcam')).rejects.toMatchObject({ code: 'muted_by_host' });
    await doctor.request('releaseMute', { peerId: 'pat', source: 'webcam' });
    expect(await patient.waitFor('muteReleased')).toEqual([{ source: 'webcam', by: 'doc' }]);
    // Released, not switched on: the camera stays off until the patient turns it on.
    await until(
      () => row(doctor, 'pat'),
      (r) => r.webcam === 'none',
      'camera released',
    );
    await produce(patient, 'video', 'webcam');
    await until(
      () => row(doctor, 'pat'),
      (r) => r.webcam === 'live',
      'camera on again',
    );
  });

  it('bad input and non-hosts are refused with typed errors', async () => {
    const { doctor, patient } = await consultation();
    await expect(patient.request('muteParticipant', { peerId: 'doc', source: 'mic' })).rejects.toMatchObject({
      code: 'forbidden',
    });
    await expect(patient.request('releaseMute', { peerId: 'doc', source: 'webcam' })).rejects.toMatchObject({
      code: 'forbidden',
    });
    await expect(doctor.request('muteParticipant', { peerId: 'doc', source: 'mic' })).rejects.toMatchObject({
      code: 'invalid_target',
    });
    await expect(doctor.request('muteParticipant', { peerId: 'ghost', source: 'mic' })).rejects.toMatchObject(
      { code: 'peer_not_found' },
    );
    await expect(
      doctor.request('muteParticipant', { peerId: 'pat', source: 'ears' as never }),
    ).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(doctor.request('muteParticipant', { peerId: '' } as never)).rejects.toMatchObject({
      code: 'invalid_request',
    });
  });
});

describe('remove', () => {
  it('closes the participant with removed_by_host and the same identity cannot rejoin; others are told', async () => {
    const { room, doctor, patient } = await consultation();
    await doctor.request('removeParticipant', { peerId: 'pat' });
    expect(await patient.closed).toEqual({ code: closeCode('removed_by_host'), reason: 'removed_by_host' });
    expect(await doctor.waitFor('peerLeft')).toEqual([{ peerId: 'pat' }]);
    await until(
      () => listOf(doctor),
      (l) => l.participants.every((p) => p.peerId !== 'pat'),
      'list without the patient',
    );
    // A fresh token for the same person is refused too.
    const again = await connect(room, 'pat', patientClaims);
    const { rtpCapabilities } = await again.request('getRouterRtpCapabilities', {});
    await expect(again.request('join', { rtpCapabilities: rtpCapabilities as never })).rejects.toMatchObject({
      code: 'removed_by_host',
    });
    expect(t.node.hub.rooms.get(room)!.waiting.size).toBe(0);
  });

  it('a host can remove someone still waiting; patients cannot remove; nobody removes themselves', async () => {
    const room = newRoomId();
    const doctor = await enter(room, 'doc', hostClaims);
    const knocking = await enter(room, 'knock', patientClaims);
    const other = await enter(room, 'other', patientClaims);
    await doctor.c.request('admit', { peerId: 'other' });
    await other.c.waitFor('admitted');
    await expect(other.c.request('removeParticipant', { peerId: 'doc' })).rejects.toMatchObject({
      code: 'forbidden',
    });
    await expect(knocking.c.request('removeParticipant', { peerId: 'other' })).rejects.toMatchObject({
      code: 'not_admitted',
    });
    await expect(doctor.c.request('removeParticipant', { peerId: 'doc' })).rejects.toMatchObject({
      code: 'invalid_target',
    });
    await expect(doctor.c.request('removeParticipant', { peerId: 'nobody' })).rejects.toMatchObject({
      code: 'peer_not_found',
    });
    await doctor.c.request('removeParticipant', { peerId: 'knock' });
    expect(await knocking.c.closed).toEqual({
      code: closeCode('removed_by_host'),
      reason: 'removed_by_host',
    });
    const [list] = ((await doctor.c.waitFor('waitingRoom', 3)) as { waiting: unknown[] }[]).slice(-1);
    expect(list!.waiting).toEqual([]);
  });
});

describe('end for everyone', () => {
  it('every connection closes with ended_by_host, the waiting room included, and the room is gone', async () => {
    const { room, doctor, patient } = await consultation();
    const waiting = await enter(room, 'late', patientClaims);
    await expect(patient.request('endForEveryone', {})).rejects.toMatchObject({ code: 'forbidden' });
    await expect(waiting.c.request('endForEveryone', {})).rejects.toMatchObject({ code: 'not_admitted' });
    expect(await doctor.request('endForEveryone', {})).toEqual({});
    for (const c of [doctor, patient, waiting.c]) {
      expect(await c.closed).toEqual({ code: closeCode('ended_by_host'), reason: 'ended_by_host' });
      expect(await c.waitFor('roomClosed')).toEqual([{ reason: 'ended_by_host' }]);
    }
    expect(t.node.hub.rooms.has(room)).toBe(false);
  });
});

describe('waiting room status and host messages', () => {
  it('a waiting patient learns position, wait and whether a host knows; gets the host note', async () => {
    const room = newRoomId();
    const first = await enter(room, 'first', patientClaims);
    const firstStatus = await until(
      () => lastOf<WaitingStatus>(first.c, 'waitingStatus'),
      () => true,
      'a status',
    );
    expect(firstStatus).toMatchObject({ position: 1, waitingCount: 1, hostNotified: false });
    expect(Date.parse(firstStatus.since)).toBeLessThanOrEqual(Date.now());
    const second = await enter(room, 'second', patientClaims);
    await until(
      () => lastOf<WaitingStatus>(second.c, 'waitingStatus'),
      (s) => s.position === 2 && s.waitingCount === 2,
      'second in line',
    );
    await until(
      () => lastOf<WaitingStatus>(first.c, 'waitingStatus'),
      (s) => s.waitingCount === 2,
      'two waiting',
    );

    const doctor = await enter(room, 'doc', hostClaims);
    await until(
      () => lastOf<WaitingStatus>(first.c, 'waitingStatus'),
      (s) => s.hostNotified,
      'the host notified',
    );
    expect(await doctor.c.request('messageWaiting', { peerId: 'first', text: '  5 more minutes  ' })).toEqual(
      { delivered: 1 },
    );
    const noted = await until(
      () => lastOf<WaitingStatus>(first.c, 'waitingStatus'),
      (s) => s.message !== undefined,
      'the note',
    );
    expect(noted.message!.text).toBe('5 more minutes');
    expect(noted.waitedMs).toBeGreaterThanOrEqual(0);
    expect(lastOf<WaitingStatus>(second.c, 'waitingStatus')!.message).toBeUndefined();
    expect(await doctor.c.request('messageWaiting', { text: 'Running late, sorry' })).toEqual({
      delivered: 2,
    });
    await until(
      () => lastOf<WaitingStatus>(second.c, 'waitingStatus'),
      (s) => s.message?.text === 'Running late, sorry',
      'the note to all',
    );

    await doctor.c.request('admit', { peerId: 'first' });
    await until(
      () => lastOf<WaitingStatus>(second.c, 'waitingStatus'),
      (s) => s.position === 1 && s.waitingCount === 1,
      'moved up',
    );
    // The host left: the patient is told nobody is watching the waiting room any more.
    doctor.c.close();
    await until(
      () => lastOf<WaitingStatus>(second.c, 'waitingStatus'),
      (s) => !s.hostNotified,
      'the host gone',
    );
  });

  it('messages are size- and rate-limited, need a host, and go only to someone waiting', async () => {
    const room = newRoomId();
    const doctor = await enter(room, 'doc', hostClaims);
    const waiting = await enter(room, 'w', patientClaims);
    await waiting.c.waitFor('waitingStatus');
    const patient = await enter(room, 'pat', patientClaims);
    await doctor.c.request('admit', { peerId: 'pat' });
    await patient.c.waitFor('admitted');
    await expect(patient.c.request('messageWaiting', { text: 'hi' })).rejects.toMatchObject({
      code: 'forbidden',
    });
    await expect(waiting.c.request('messageWaiting', { text: 'hi' })).rejects.toMatchObject({
      code: 'not_admitted',
    });
    await expect(
      doctor.c.request('messageWaiting', { text: 'x'.repeat(WAITING_MESSAGE_MAX_CHARS + 1) }),
    ).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(doctor.c.request('messageWaiting', { text: '   ' })).rejects.toMatchObject({
      code: 'invalid_request',
    });
    await expect(doctor.c.request('messageWaiting', { text: 'bell\u0007' })).rejects.toMatchObject({
      code: 'invalid_request',
    });
    await expect(
      doctor.c.request('messageWaiting', { peerId: 'pat', text: 'not waiting' }),
    ).rejects.toMatchObject({ code: 'peer_not_found' });
    for (let i = 0; i < WAITING_MESSAGE_BURST; i++)
      await doctor.c.request('messageWaiting', { text: `note ${i}` });
    await expect(doctor.c.request('messageWaiting', { text: 'one too many' })).rejects.toMatchObject({
      code: 'rate_limited',
    });
    await until(
      () => lastOf<WaitingStatus>(waiting.c, 'waitingStatus'),
      (s) => s.message?.text === `note ${WAITING_MESSAGE_BURST - 1}`,
      'the last allowed note',
    );
  });
});
