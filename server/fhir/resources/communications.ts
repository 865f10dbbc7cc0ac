import type { Communication, Patient, Practitioner, Reference } from '@medplum/fhirtypes';
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../../../db/client.ts';
import { conversations, users } from '../../../db/schema/index.ts';
import { ProblemError } from '../../api/errors.ts';
import { PROBLEM } from '../../api/problem-codes.ts';
import type { ChatRepository } from '../../messaging/chat-repository.ts';
import type { Messaging } from '../../messaging/messaging.ts';
import type { ChatMessage } from '../../messaging/types.ts';
import type { Actor } from '../../policy/types.ts';
import { fhirNotFound } from '../operation-outcome.ts';
import { ref, type ResourceProvider, type SearchPage } from '../provider.ts';
import { decodeCursor, emptyRange, type DateRange, type ParsedSearch } from '../search-params.ts';

type Room = { id: string; appointmentId: string; patientId: string };
const USER_SYSTEM = 'https://carecall.dev/fhir/sid/user';
const GUEST_SYSTEM = 'https://carecall.dev/fhir/sid/consultation-guest';
/** History pages one search reads at most before it answers (a short page, with its next link). */
const MAX_READS_PER_PAGE = 5;
const ID = /^([0-9a-f-]{36})\.([1-9]\d{0,15})$/;

const isCursor = (v: unknown): v is { c: string; before: number | null } =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { c?: unknown }).c === 'string' &&
  ((v as { before?: unknown }).before === null || Number.isSafeInteger((v as { before?: unknown }).before));

function toCommunication(
  room: Room,
  m: ChatMessage,
  sender: Reference<Patient | Practitioner>,
): Communication {
  return {
    resourceType: 'Communication',
    id: `${room.id}.${m.seq}`,
    identifier: [{ system: 'urn:ietf:rfc:3986', value: `urn:uuid:${m.id}` }],
    basedOn: [ref('Appointment', room.appointmentId)],
    // A deleted message keeps its place in the conversation, without its text.
    status: m.deleted ? 'entered-in-error' : 'completed',
    subject: ref('Patient', room.patientId),
    sent: m.createdAt,
    sender,
    ...(m.body !== null && !m.deleted ? { payload: [{ contentString: m.body }] } : {}),
  };
}

const inRange = (r: DateRange | undefined, at: string) =>
  (!r?.from || new Date(at) >= r.from) && (!r?.to || new Date(at) < r.to);

/**
 * Chat messages of consultations (each appointment's room conversation) as Communications,
 * read and decrypted through the messaging repository bound to the caller: its decision (the
 * conversation's parties: patient side and the appointment's doctor), its audit entry per page
 * read, its rule on which messages a member sees.
 */
export class CommunicationProvider implements ResourceProvider {
  readonly type = 'Communication' as const;
  readonly documentation = "Messages of consultations' chats, newest first within each consultation.";
  readonly params = [
    {
      name: 'based-on',
      type: 'reference' as const,
      target: ['Appointment'],
      documentation: 'The consultation (Appointment/<id>).',
    },
    {
      name: 'patient',
      alias: 'subject',
      type: 'reference' as const,
      target: ['Patient'],
      documentation: 'The patient (Patient/<id>).',
    },
    {
      name: 'sent',
      type: 'date' as const,
      documentation: 'When it was sent, with prefixes eq, lt, le, gt, ge.',
    },
  ];
  readonly includes = [];

  constructor(
    private readonly db: Db,
    private readonly messaging: Messaging,
  ) {}

  #chat(actor: Actor): ChatRepository {
    return this.messaging.forActor({ kind: 'user', actor, presence: 'absent' });
  }

  async read(actor: Actor, id: string): Promise<Communication> {
    const m = ID.exec(id);
    const [room] = m ? await this.#rooms({ ids: [m[1]!] }) : [];
    if (!m || !room) throw fhirNotFound('Communication');
    const seq = Number(m[2]);
    const page = await hidden(() => this.#chat(actor).history(room.id, { before: seq + 1, limit: 1 }));
    const message = page?.messages.find((x) => x.seq === seq);
    if (!message) throw fhirNotFound('Communication');
    return (await this.#map(room, [message]))[0]!;
  }

  async search(actor: Actor, s: ParsedSearch): Promise<SearchPage> {
    const sent = s.dates.get('sent');
    if (emptyRange(sent)) return { matches: [] };
    const chat = this.#chat(actor);
    const appointment = s.refs.get('based-on')?.id;
    const patient = s.refs.get('patient')?.id;
    const mine = new Set((await chat.list()).filter((c) => c.kind === 'room').map((c) => c.id));
    let rooms = (await this.#rooms({ appointmentId: appointment, patientId: patient })).filter((r) =>
      mine.has(r.id),
    );
    const cursor = decodeCursor(s.cursor, isCursor);
    if (cursor) rooms = rooms.filter((r) => r.id >= cursor.c);
    const matches: Communication[] = [];
    // The cursor's seq belongs to its own conversation only (that one may have gone meanwhile).
    let before = cursor && rooms[0]?.id === cursor.c ? (cursor.before ?? undefined) : undefined;
    let i = 0;
    for (let reads = 0; i < rooms.length && matches.length < s.count && reads < MAX_READS_PER_PAGE; reads++) {
      const room = rooms[i]!;
      const page = await hidden(() =>
        chat.history(room.id, {
          limit: s.count - matches.length,
          ...(before !== undefined ? { before } : {}),
        }),
      );
      const shown = (page?.messages ?? []).filter(
        (x) => inRange(sent, x.createdAt) && (!s.ids || s.ids.includes(`${room.id}.${x.seq}`)),
      );
      matches.push(...(await this.#map(room, shown)));
      if (page?.nextBefore) before = page.nextBefore;
      else {
        i++;
        before = undefined;
      }
    }
    const next = i < rooms.length ? { c: rooms[i]!.id, before: before ?? null } : undefined;
    return { matches, ...(next ? { next } : {}) };
  }

  /** Room conversations (ids of routing only, no message content) in id order. */
  #rooms(f: {
    ids?: string[];
    appointmentId?: string | undefined;
    patientId?: string | undefined;
  }): Promise<Room[]> {
    return this.db
      .select({
        id: conversations.id,
        appointmentId: conversations.appointmentId,
        patientId: conversations.patientId,
      })
      .from(conversations)
      .where(
        and(
          eq(conversations.kind, 'room'),
          f.ids ? inArray(conversations.id, f.ids) : undefined,
          f.appointmentId ? eq(conversations.appointmentId, f.appointmentId) : undefined,
          f.patientId ? eq(conversations.patientId, f.patientId) : undefined,
        ),
      )
      .orderBy(asc(conversations.id)) as Promise<Room[]>;
  }

  /** Senders as references: doctors as Practitioner, patients as Patient, anyone else by id. */
  async #map(room: Room, messages: ChatMessage[]): Promise<Communication[]> {
    const userIds = [...new Set(messages.filter((m) => m.senderKind === 'user').map((m) => m.senderId))];
    const roles = new Map(
      userIds.length
        ? (
            await this.db
              .select({ id: users.id, role: users.role })
              .from(users)
              .where(inArray(users.id, userIds))
          ).map((u) => [u.id, u.role] as const)
        : [],
    );
    return messages.map((m) => {
      const role = roles.get(m.senderId);
      const sender: Reference<Patient | Practitioner> =
        m.senderKind === 'guest'
          ? { identifier: { system: GUEST_SYSTEM, value: m.senderId }, display: 'Guest' }
          : role === 'doctor'
            ? ref('Practitioner', m.senderId)
            : role === 'patient'
              ? ref('Patient', m.senderId)
              : { identifier: { system: USER_SYSTEM, value: m.senderId } };
      return toCommunication(room, m, sender);
    });
  }
}

/** The messaging repository's refusals (not a member, not now) read as "nothing here". */
async function hidden<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof ProblemError && (err.code === PROBLEM.notFound || err.code === PROBLEM.forbidden))
      return undefined;
    throw err;
  }
}
