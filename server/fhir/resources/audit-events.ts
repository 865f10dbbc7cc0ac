import type {
  AuditEvent,
  AuditEventAgent,
  AuditEventEntity,
  Patient,
  Practitioner,
  Reference,
} from '@medplum/fhirtypes';
import { ProblemError } from '../../api/errors.ts';
import { PROBLEM } from '../../api/problem-codes.ts';
import { AUDIT_ACTIONS, type AuditAction } from '../../audit/audit-actions.ts';
import type { AuditQuery, AuditRow } from '../../audit/audit-log.ts';
import type { AuditQueries } from '../../audit/audit-queries.ts';
import type { Actor } from '../../policy/types.ts';
import { fhirNotFound } from '../operation-outcome.ts';
import { ref, type ResourceProvider, type SearchPage } from '../provider.ts';
import { decodeCursor, emptyRange, type ParsedSearch } from '../search-params.ts';
import { isUuid } from './patients.ts';

const ACTION_SYSTEM = 'https://carecall.dev/fhir/CodeSystem/audit-action';
const USER_SYSTEM = 'https://carecall.dev/fhir/sid/user';
const GUEST_SYSTEM = 'https://carecall.dev/fhir/sid/consultation-guest';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OUTCOME = { allowed: '0', denied: '4', failed: '8' } as const;
const isCursor = (v: unknown): v is { before: number } =>
  typeof v === 'object' && v !== null && Number.isSafeInteger((v as { before?: unknown }).before);

function who(actorId: string, role: string | null): Reference<Patient | Practitioner> {
  if (actorId.startsWith('guest:')) return { identifier: { system: GUEST_SYSTEM, value: actorId.slice(6) } };
  if (role === 'doctor') return ref('Practitioner', actorId);
  if (role === 'patient') return ref('Patient', actorId);
  return { identifier: { system: USER_SYSTEM, value: actorId } };
}

/** One audit log row as an R4 AuditEvent, coded as the action catalogue maps it (audit-actions.ts). */
export function toAuditEvent(row: AuditRow): AuditEvent {
  const coding = AUDIT_ACTIONS[row.action as AuditAction];
  const agent: AuditEventAgent[] = row.actorId
    ? [
        {
          who: who(row.actorId, row.actorRole),
          ...(row.actorRole ? { role: [{ text: row.actorRole }] } : {}),
          requestor: true,
          ...(row.ip && row.ip !== 'unknown' ? { network: { address: row.ip, type: '2' as const } } : {}),
          ...(row.breakGlass
            ? {
                purposeOfUse: [
                  {
                    coding: [
                      {
                        system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
                        code: 'ETREAT',
                        display: 'Emergency Treatment',
                      },
                    ],
                  },
                ],
              }
            : {}),
        },
      ]
    : [{ who: { display: 'CareCall' }, requestor: false }];
  // A guardian acting for a dependent: the dependent is who it was done for.
  if (row.onBehalfOf)
    agent.push({ who: ref('Patient', row.onBehalfOf), requestor: false, role: [{ text: 'on behalf of' }] });
  const entity: AuditEventEntity[] = [];
  if (row.patientId)
    entity.push({
      what: ref('Patient', row.patientId),
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
    });
  if (row.resourceId)
    entity.push({
      what: {
        identifier: { system: `https://carecall.dev/fhir/sid/${row.resourceType}`, value: row.resourceId },
      },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
    });
  return {
    resourceType: 'AuditEvent',
    id: row.id,
    type: coding?.type ?? { system: ACTION_SYSTEM, code: row.action },
    subtype: [
      ...(coding?.subtype ? [coding.subtype] : []),
      { system: ACTION_SYSTEM, code: row.action, display: row.action },
    ],
    ...(coding ? { action: coding.action } : {}),
    recorded: row.at.toISOString(),
    outcome: OUTCOME[row.outcome as keyof typeof OUTCOME] ?? '8',
    ...(row.reason ? { outcomeDesc: row.reason } : {}),
    agent,
    source: {
      observer: { display: 'CareCall' },
      type: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
          code: '4',
          display: 'Application Server',
        },
      ],
    },
    ...(entity.length ? { entity } : {}),
  };
}

/**
 * The audit log as AuditEvents, read through the audit API's reader: platform admins read all of
 * it, clinic admins their clinic's entries (the clinic they belong to, or the one named), nobody else.
 */
export class AuditEventProvider implements ResourceProvider {
  readonly type = 'AuditEvent' as const;
  readonly documentation =
    "The audit log, newest first: all of it for platform admins, their clinic's for clinic admins.";
  readonly params = [
    {
      name: 'date',
      type: 'date' as const,
      documentation: 'When it was recorded, with prefixes eq, lt, le, gt, ge.',
    },
    {
      name: 'patient',
      type: 'reference' as const,
      target: ['Patient'],
      documentation: 'Entries about this patient.',
    },
    {
      name: 'agent',
      type: 'reference' as const,
      target: ['Practitioner', 'Patient'],
      documentation: 'Entries of this actor.',
    },
    {
      name: 'clinic',
      type: 'reference' as const,
      target: ['Organization'],
      documentation: "Not in R4: the clinic whose entries to read (a clinic admin's own clinic by default).",
    },
  ];
  readonly includes = [];

  constructor(private readonly queries: AuditQueries) {}

  async read(actor: Actor, id: string): Promise<AuditEvent> {
    if (!isUuid(id)) throw fhirNotFound('AuditEvent');
    const clinicId = actor.role === 'admin' ? undefined : soleClinic(actor);
    const [row] =
      (await refusedAsNone(() =>
        this.#entries(actor, { id, limit: 1, ...(clinicId ? { clinicId } : {}) }),
      )) ?? [];
    if (!row) throw fhirNotFound('AuditEvent');
    return toAuditEvent(row);
  }

  async search(actor: Actor, s: ParsedSearch): Promise<SearchPage> {
    const range = s.dates.get('date');
    if (emptyRange(range)) return { matches: [] };
    const clinicId = s.refs.get('clinic')?.id ?? (actor.role === 'admin' ? undefined : soleClinic(actor));
    const before = decodeCursor(s.cursor, isCursor)?.before;
    const q: AuditQuery = {
      limit: s.count + 1,
      ...(clinicId ? { clinicId } : {}),
      ...(s.refs.get('patient') ? { patientId: s.refs.get('patient')!.id } : {}),
      ...(s.refs.get('agent') ? { actorId: s.refs.get('agent')!.id } : {}),
      ...(range?.from ? { from: range.from } : {}),
      // The reader's `to` is inclusive, the range's end is not.
      ...(range?.to ? { to: new Date(range.to.getTime() - 1) } : {}),
      ...(before ? { before } : {}),
    };
    // Ids are looked up one by one (at most _count of them), each under the same filters.
    const rows = s.ids
      ? (
          await Promise.all(
            s.ids
              .filter(isUuid)
              .slice(0, s.count + 1)
              .map(async (id) => (await refusedAsNone(() => this.#entries(actor, { ...q, id }))) ?? []),
          )
        )
          .flat()
          .sort((a, b) => b.seq - a.seq)
      : ((await refusedAsNone(() => this.#entries(actor, q))) ?? []);
    const page = rows.slice(0, s.count);
    return {
      matches: page.map(toAuditEvent),
      ...(rows.length > s.count ? { next: { before: page[page.length - 1]!.seq } } : {}),
    };
  }

  async #entries(actor: Actor, q: AuditQuery): Promise<AuditRow[]> {
    return (await this.queries.forActor(actor).entries(q)).entries;
  }
}

/** A clinic admin's clinic when there is one; with several they name it (clinic=Organization/<id>). */
function soleClinic(actor: Actor): string | undefined {
  if (actor.clinicIds.length === 1) return actor.clinicIds[0];
  if (actor.role === 'clinic_admin' && actor.clinicIds.length > 1)
    throw new ProblemError(400, PROBLEM.invalidQuery, 'the search is invalid', [
      { field: 'clinic', message: 'you administer several clinics: name one (clinic=Organization/<id>)' },
    ]);
  return undefined;
}

async function refusedAsNone<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof ProblemError && (err.code === PROBLEM.forbidden || err.code === PROBLEM.notFound))
      return undefined;
    throw err;
  }
}
