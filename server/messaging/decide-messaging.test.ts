import { describe, expect, it } from 'vitest';
import type { Actor } from '../policy/types.ts';
import { decideMessaging, decideOpenThread } from './decide-messaging.ts';
import type { ChatActor, ConversationFacts, MessagingAction, RoomPresence } from './types.ts';

const C = 'clinic-1';
const room: ConversationFacts = {
  id: 'conv-room',
  kind: 'room',
  clinicId: C,
  appointmentId: 'appt-1',
  doctorId: 'doc',
  patientId: 'pat',
  guardianIds: ['guard'],
};
const care: ConversationFacts = { ...room, id: 'conv-care', kind: 'care', appointmentId: null };

const user =
  (userId: string, role: Actor['role'], extra: Partial<Actor> = {}) =>
  (presence: RoomPresence): ChatActor => ({
    kind: 'user',
    presence,
    actor: { userId, role, sessionId: 's', clinicIds: [C], ...extra },
  });
const people = {
  doctor: user('doc', 'doctor'),
  patient: user('pat', 'patient'),
  guardianForPatient: user('guard', 'guardian', { onBehalfOf: 'pat', clinicIds: [] }),
  guardianSelf: user('guard', 'guardian', { clinicIds: [] }),
  otherGuardian: user('g2', 'guardian', { onBehalfOf: 'pat' }),
  otherDoctor: user('doc2', 'doctor'),
  doctorOtherClinic: user('doc', 'doctor', { clinicIds: ['clinic-2'] }),
  patientOtherClinic: user('pat', 'patient', { clinicIds: ['clinic-2'] }),
  operator: user('op', 'operator'),
  clinicAdmin: user('adm', 'clinic_admin'),
  platformAdmin: user('root', 'admin'),
};
const guest = (presence: RoomPresence, valid = true, appointmentId = 'appt-1') => ({
  who: { kind: 'guest', guestId: 'g', appointmentId, presence } as ChatActor,
  facts: { ...room, guestValid: valid },
});

const outcome = (who: ChatActor, facts: ConversationFacts, action: MessagingAction) => {
  const d = decideMessaging(who, facts, action);
  return d.allow ? (d.audience === 'hosts' ? 'hosts' : d.host ? 'host' : 'yes') : d.reason;
};
const row = (who: ChatActor, facts: ConversationFacts) =>
  (['read', 'post', 'receipt'] as const).map((a) => outcome(who, facts, a)).join(' ');

describe('decideMessaging: the matrix (read post receipt)', () => {
  it('room conversation, by presence', () => {
    const table = Object.fromEntries(
      Object.entries(people).flatMap(([name, make]) =>
        (['admitted', 'waiting', 'absent'] as const).map((p) => [`${name} ${p}`, row(make(p), room)]),
      ),
    );
    expect(table).toEqual({
      'doctor admitted': 'host host host',
      'doctor waiting': 'host host host',
      'doctor absent': 'host host host',
      'patient admitted': 'yes yes yes',
      'patient waiting': 'waiting_room hosts waiting_room',
      'patient absent': 'yes not_in_room yes',
      'guardianForPatient admitted': 'yes yes yes',
      'guardianForPatient waiting': 'waiting_room hosts waiting_room',
      'guardianForPatient absent': 'yes not_in_room yes',
      ...Object.fromEntries(
        [
          'guardianSelf',
          'otherGuardian',
          'otherDoctor',
          'doctorOtherClinic',
          'patientOtherClinic',
          'operator',
          'clinicAdmin',
          'platformAdmin',
        ].flatMap((n) =>
          (['admitted', 'waiting', 'absent'] as const).map((p) => [
            `${n} ${p}`,
            'not_member not_member not_member',
          ]),
        ),
      ),
    });
  });

  it('guests: only their appointment, only while valid, read only when admitted', () => {
    const g = (p: RoomPresence, valid = true, appt = 'appt-1') => {
      const { who, facts } = guest(p, valid, appt);
      return row(who, facts);
    };
    expect(g('admitted')).toBe('yes yes yes');
    expect(g('waiting')).toBe('waiting_room hosts waiting_room');
    expect(g('absent')).toBe('not_in_room not_in_room not_in_room');
    expect(g('admitted', false)).toBe('guest_expired guest_expired guest_expired');
    expect(g('admitted', true, 'appt-2')).toBe('not_member not_member not_member');
    expect(row(guest('admitted').who, { ...care, guestValid: true })).toBe(
      'not_member not_member not_member',
    );
  });

  it('care threads: the doctor and the patient side, wherever they are', () => {
    expect(row(people.doctor('absent'), care)).toBe('host host host');
    expect(row(people.patient('absent'), care)).toBe('yes yes yes');
    expect(row(people.guardianForPatient('absent'), care)).toBe('yes yes yes');
    for (const n of ['guardianSelf', 'otherDoctor', 'doctorOtherClinic', 'operator', 'clinicAdmin'] as const)
      expect(row(people[n]('absent'), care), n).toBe('not_member not_member not_member');
  });
});

describe('decideOpenThread', () => {
  const f = {
    clinicId: C,
    doctorId: 'doc',
    patientId: 'pat',
    guardianIds: ['guard'],
    eligible: true,
    patientsMayOpen: true,
  };
  const open = (who: ChatActor, facts = f) => {
    const d = decideOpenThread((who as Extract<ChatActor, { kind: 'user' }>).actor, facts);
    return d.allow ? 'yes' : d.reason;
  };
  it('either side once eligible; patients only if the clinic lets them', () => {
    expect(open(people.doctor('absent'))).toBe('yes');
    expect(open(people.patient('absent'))).toBe('yes');
    expect(open(people.guardianForPatient('absent'))).toBe('yes');
    expect(open(people.doctor('absent'), { ...f, eligible: false })).toBe('no_shared_care');
    expect(open(people.patient('absent'), { ...f, eligible: false })).toBe('no_shared_care');
    expect(open(people.patient('absent'), { ...f, patientsMayOpen: false })).toBe('patients_reply_only');
    expect(open(people.guardianForPatient('absent'), { ...f, patientsMayOpen: false })).toBe(
      'patients_reply_only',
    );
    expect(open(people.doctor('absent'), { ...f, patientsMayOpen: false })).toBe('yes');
    for (const n of [
      'otherDoctor',
      'doctorOtherClinic',
      'operator',
      'guardianSelf',
      'patientOtherClinic',
    ] as const)
      expect(open(people[n]('absent')), n).toBe('not_party');
  });
});
