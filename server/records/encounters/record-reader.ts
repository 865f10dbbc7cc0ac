import { asc, desc, eq, inArray, and } from 'drizzle-orm';
import type { Readable } from 'node:stream';
import { conditions, encounters, fileParts, files, recordDocuments } from '../../../db/schema/index.ts';
import { ProblemError } from '../../api/errors.ts';
import { PROBLEM } from '../../api/problem-codes.ts';
import type { AuditEntry } from '../../audit/audit-log.ts';
import { openDownload } from '../../files/download-stream.ts';
import { conversationScope } from '../../messaging/scope.ts';
import type { Actor } from '../../policy/types.ts';
import type { EncounterRow, RecordsContext } from './deps.ts';
import type { EncounterContent } from './encounter-content.ts';
import { readSummary } from './summary-document.ts';

type DocumentRow = typeof recordDocuments.$inferSelect;
const MAX_ENCOUNTERS = 500;

export type EncounterVersionView = {
  id: string;
  appointmentId: string;
  version: number;
  previousId: string | null;
  authorId: string;
  clinicId: string;
  finalisedAt: Date;
  amendmentReason: string | null;
  content: EncounterContent;
  conditions: { id: string; code: string; display: string; status: 'active' | 'resolved' }[];
};

/**
 * The patient's record as its readers see it: the patient, their guardian (acting for them), the
 * doctors treating them, a doctor under break-glass (flagged in the audit entry). Only finalised
 * versions are part of the record; each encounter shows its latest version with the history.
 */
export class RecordReader {
  constructor(private readonly ctx: RecordsContext) {}

  async record(actor: Actor, patientId: string) {
    const facts = await this.ctx.deps.policy.patient(patientId);
    const { granted, entry } = await this.ctx.deps.policy.requireDeferred(actor, 'record.read', facts);
    const { rows, conditionRows, documentRows } = await this.ctx.audited([entry], async (tx) => {
      const rows = await tx
        .select()
        .from(encounters)
        .where(and(eq(encounters.patientId, patientId), eq(encounters.status, 'finalised')))
        .orderBy(desc(encounters.finalisedAt))
        .limit(MAX_ENCOUNTERS);
      const ids = rows.map((r) => r.id);
      const conditionRows = ids.length
        ? await tx
            .select()
            .from(conditions)
            .where(inArray(conditions.encounterId, ids))
            .orderBy(asc(conditions.position))
        : [];
      const documentRows = await tx
        .select()
        .from(recordDocuments)
        .where(eq(recordDocuments.patientId, patientId))
        .orderBy(desc(recordDocuments.createdAt));
      return { rows, conditionRows, documentRows };
    });
    const views = await Promise.all(rows.map((r) => this.#view(r, conditionRows)));
    const byAppointment = new Map<string, EncounterVersionView[]>();
    for (const v of [...views].sort((a, b) => a.version - b.version)) {
      const list = byAppointment.get(v.appointmentId) ?? [];
      list.push(v);
      byAppointment.set(v.appointmentId, list);
    }
    const latestIds = new Set([...byAppointment.values()].map((list) => list.at(-1)!.id));
    const encountersOut = [...byAppointment.values()]
      .map((list) => ({
        ...list.at(-1)!,
        history: list.map((v) => ({
          id: v.id,
          version: v.version,
          authorId: v.authorId,
          finalisedAt: v.finalisedAt,
          amendmentReason: v.amendmentReason,
        })),
      }))
      .sort((a, b) => b.history[0]!.finalisedAt.getTime() - a.history[0]!.finalisedAt.getTime());
    return {
      patientId,
      breakGlass: granted.breakGlass,
      encounters: encountersOut,
      diagnoses: diagnosesOf(encountersOut),
      recommendations: encountersOut.flatMap((e) =>
        e.content.recommendations.map((text) => ({ text, encounterId: e.id, finalisedAt: e.finalisedAt })),
      ),
      documents: await Promise.all(documentRows.map((d) => this.#document(d, latestIds))),
    };
  }

  /** One version (an old one stays readable), with the chain it belongs to. */
  async version(actor: Actor, encounterId: string) {
    const [row] = await this.ctx.deps.db.select().from(encounters).where(eq(encounters.id, encounterId));
    if (!row || row.status !== 'finalised')
      throw new ProblemError(404, PROBLEM.notFound, 'no such encounter');
    const facts = await this.ctx.deps.policy.patient(row.patientId);
    const { granted, entry } = await this.ctx.deps.policy.requireDeferred(actor, 'record.read', facts, {
      resourceId: encounterId,
    });
    const { chain, conditionRows } = await this.ctx.audited([entry], async (tx) => {
      const chain = await this.ctx.versions(tx, row.appointmentId);
      const conditionRows = await tx.select().from(conditions).where(eq(conditions.encounterId, encounterId));
      return { chain, conditionRows };
    });
    const finalisedChain = chain.filter((v) => v.status === 'finalised');
    return {
      ...(await this.#view(row, conditionRows)),
      latest: finalisedChain.at(-1)?.id === row.id,
      latestId: finalisedChain.at(-1)!.id,
      breakGlass: granted.breakGlass,
      history: finalisedChain.map((v) => ({
        id: v.id,
        version: v.version,
        authorId: v.authorId,
        finalisedAt: v.finalisedAt,
      })),
    };
  }

  /** A record document's bytes for download; the decision and the download are audited before anything is sent. */
  async download(
    actor: Actor,
    documentId: string,
  ): Promise<{ body: Buffer | Readable; name: string; type: string; size: number }> {
    const [doc] = await this.ctx.deps.db
      .select()
      .from(recordDocuments)
      .where(eq(recordDocuments.id, documentId));
    if (!doc) throw new ProblemError(404, PROBLEM.notFound, 'no such document');
    const facts = await this.ctx.deps.policy.patient(doc.patientId);
    const { entry } = await this.ctx.deps.policy.requireDeferred(actor, 'record.document.read', facts, {
      resourceId: documentId,
    });
    const downloaded = this.ctx.deps.audit.entry({
      action: 'record.document.downloaded',
      outcome: 'allowed',
      resourceType: 'record_document',
      resourceId: documentId,
      patientId: doc.patientId,
      clinicId: doc.clinicId,
    });
    const entries: (AuditEntry | undefined)[] = [entry, downloaded];
    if (doc.kind === 'summary_pdf') {
      const pdf = await readSummary(this.ctx.deps, doc);
      await this.ctx.audited(entries, async () => undefined);
      return { body: pdf, name: await this.#summaryName(doc), type: 'application/pdf', size: pdf.length };
    }
    const [file] = await this.ctx.deps.db.select().from(files).where(eq(files.id, doc.fileId!));
    if (!file) throw new ProblemError(404, PROBLEM.notFound, 'no such document');
    const parts = await this.ctx.deps.db
      .select()
      .from(fileParts)
      .where(eq(fileParts.fileId, file.id))
      .orderBy(asc(fileParts.idx));
    const download = await openDownload(file, parts, this.ctx.deps);
    await this.ctx.audited(entries, async () => undefined);
    return {
      body: download.stream,
      name: await this.#fileName(file),
      type: download.type,
      size: download.size,
    };
  }

  async #view(
    row: EncounterRow,
    conditionRows: (typeof conditions.$inferSelect)[],
  ): Promise<EncounterVersionView> {
    const content = await this.ctx.content.open(row.patientId, row.id, row.sealedContent);
    const mine = conditionRows.filter((c) => c.encounterId === row.id);
    return {
      id: row.id,
      appointmentId: row.appointmentId,
      version: row.version,
      previousId: row.previousId,
      authorId: row.authorId,
      clinicId: row.clinicId,
      finalisedAt: row.finalisedAt!,
      amendmentReason: row.sealedAmendmentReason
        ? await this.ctx.content.openReason(row.patientId, row.id, row.sealedAmendmentReason)
        : null,
      content,
      conditions: await Promise.all(
        mine.map(async (c) => {
          const coding = await this.ctx.content.openCoding(row.patientId, c.id, c.sealedCoding);
          return { id: c.id, code: coding.code, display: coding.display, status: c.clinicalStatus };
        }),
      ),
    };
  }

  async #document(d: DocumentRow, latestIds: Set<string>) {
    const name =
      d.kind === 'summary_pdf'
        ? await this.#summaryName(d)
        : await this.ctx.deps.db
            .select()
            .from(files)
            .where(eq(files.id, d.fileId!))
            .then(([f]) => (f ? this.#fileName(f) : 'file'));
    return {
      id: d.id,
      kind: d.kind,
      encounterId: d.encounterId,
      name,
      mediaType: d.mediaType,
      size: d.size,
      createdAt: d.createdAt,
      ...(d.kind === 'summary_pdf'
        ? {
            signedAt: d.signedAt,
            latest: latestIds.has(d.encounterId),
            url: `/api/records/documents/${d.id}/content`,
          }
        : { url: `/api/records/documents/${d.id}/content` }),
    };
  }

  async #summaryName(d: DocumentRow): Promise<string> {
    const [v] = await this.ctx.deps.db
      .select({ version: encounters.version })
      .from(encounters)
      .where(eq(encounters.id, d.encounterId));
    const day = (d.signedAt ?? d.createdAt).toISOString().slice(0, 10);
    return `consultation-summary-${day}${v && v.version > 1 ? `-v${v.version}` : ''}.pdf`;
  }

  #fileName(f: typeof files.$inferSelect): Promise<string> {
    return this.ctx.deps.sealer.openText(conversationScope(f.conversationId), `file:${f.id}`, f.sealedName);
  }
}

/**
 * Active and resolved diagnoses over the latest version of every encounter: a code's newest
 * mention decides its status (resolved in a later encounter = resolved).
 */
function diagnosesOf(
  list: { id: string; finalisedAt: Date; conditions: EncounterVersionView['conditions'] }[],
) {
  const newest = new Map<
    string,
    {
      code: string;
      display: string;
      status: string;
      encounterId: string;
      recordedAt: Date;
      firstRecordedAt: Date;
    }
  >();
  for (const e of [...list].sort((a, b) => a.finalisedAt.getTime() - b.finalisedAt.getTime())) {
    for (const c of e.conditions) {
      const before = newest.get(c.code);
      newest.set(c.code, {
        code: c.code,
        display: c.display,
        status: c.status,
        encounterId: e.id,
        recordedAt: e.finalisedAt,
        firstRecordedAt: before?.firstRecordedAt ?? e.finalisedAt,
      });
    }
  }
  const all = [...newest.values()];
  return {
    active: all.filter((d) => d.status === 'active'),
    resolved: all.filter((d) => d.status === 'resolved'),
  };
}
