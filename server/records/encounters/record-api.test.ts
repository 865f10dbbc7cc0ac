import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, breakGlassGrants, encounters } from '../../../db/schema/index.ts';
import { rowsOf } from '../../../db/rows.ts';
import { SMALL_PDF } from '../../../test/helpers/app-upload.ts';
import { ENGINES } from '../../../test/helpers/engines.ts';
import { nssDbTrusting, pdfsig, pdftotext, scratchDir } from '../test-support/poppler.ts';
import { sampleDraft, startRecordsHarness, type RecordsHarness } from '../test-support/records-harness.ts';

describe.each(ENGINES)('the record API on %s', (engine) => {
  let h: RecordsHarness;
  const tok: Record<string, string> = {};
  let appointmentId: string;
  let finalised: { encounterId: string; documentId: string };
  const dir = scratchDir();
  let nss: string;

  beforeAll(async () => {
    h = await startRecordsHarness(engine);
    const s = h.seed;
    tok.doctor = await h.tokenFor(s.doctorId, 'doctor');
    tok.patient = await h.tokenFor(s.patientId, 'patient');
    tok.colleague = await h.tokenFor(s.otherDoctorId, 'doctor');
    tok.operator = await h.tokenFor(s.operatorId, 'operator');
    tok.partner = await h.tokenFor(h.partnerId, 'partner');
    tok.otherPatient = await h.tokenFor(h.otherPatientId, 'patient');
    tok.otherClinicDoctor = await h.tokenFor(h.other.doctorId, 'doctor');
    tok.guardian = await h.tokenFor(s.guardianId, 'guardian');
    nss = await nssDbTrusting(dir.path, dir.file('ca.pem', h.signing.caPem));

    appointmentId = await h.appointment('in_call');
    await h.chatFile(appointmentId, tok.doctor!, SMALL_PDF);
    const saved = await put(appointmentId, sampleDraft());
    expect(saved.status).toBe(201);
    const done = await h.call('POST', `/api/records/appointments/${appointmentId}/encounter/finalise`, {
      token: tok.doctor,
    });
    expect(done.status).toBe(201);
    finalised = done.body;
  }, 90_000);
  afterAll(async () => {
    dir.remove();
    await h?.close();
  });

  const put = (id: string, body: unknown, headers: Record<string, string> = {}, token = tok.doctor) =>
    h.call('PUT', `/api/records/appointments/${id}/encounter`, { token, body, headers });

  it('autosaves a draft: ETag per revision, 409 on a stale one, 428 without If-Match, a retried save is a success', async () => {
    const id = await h.appointment('in_call');
    const first = await put(id, sampleDraft({ findings: 'first' }));
    expect(first.status).toBe(201);
    expect(first.headers.get('etag')).toBe('"r1"');
    expect(first.body.content.diagnoses[1]).toEqual({
      code: 'F51.01',
      display: 'Insomnia, primary',
      title: 'Primary insomnia',
      status: 'active',
    });
    const tabA = await put(id, sampleDraft({ findings: 'tab A' }), { 'if-match': '"r1"' });
    expect(tabA.status).toBe(200);
    expect(tabA.headers.get('etag')).toBe('"r2"');
    // Tab B still holds r1: refused, not silently replacing tab A's text.
    const tabB = await put(id, sampleDraft({ findings: 'tab B' }), { 'if-match': '"r1"' });
    expect(tabB.status).toBe(409);
    expect(tabB.body.code).toBe('conflict');
    // Tab A's request retried after a lost response: same content on r1, answered as saved.
    const retry = await put(id, sampleDraft({ findings: 'tab A' }), { 'if-match': '"r1"' });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('etag')).toBe('"r2"');
    const blind = await put(id, sampleDraft({ findings: 'no precondition' }));
    expect(blind.status).toBe(428);
    expect(blind.body.code).toBe('precondition_required');
    const read = await h.call('GET', `/api/records/appointments/${id}/encounter`, { token: tok.doctor });
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe('"r2"');
    expect(read.body.content.findings).toBe('tab A');
    // Bad input: typed errors.
    const bad = await put(id, { diagnoses: [{ code: 'F32.1' }, { code: 'f321' }] }, { 'if-match': '"r2"' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('diagnoses');
    expect((await put(id, { unknownField: 1 }, { 'if-match': '"r2"' })).status).toBe(400);
  });

  it('stores only ciphertext: no clinical text or code in any column of the encounter', async () => {
    const rows = rowsOf<{ row: string }>(
      await h.db.execute(
        sql`select t::text as row from encounters t where appointment_id = ${appointmentId}`,
      ),
    );
    const conds = rowsOf<{ row: string }>(await h.db.execute(sql`select t::text as row from conditions t`));
    for (const text of [...rows, ...conds].map((r) => r.row))
      for (const secret of ['Low mood', 'PHQ-9', 'Sertraline', 'F32.1', 'F51.01', 'Insomnia'])
        expect(text).not.toContain(secret);
  });

  it('the draft is its doctor’s only: colleague, other clinic, operator, partner get 404; the patient 403', async () => {
    const id = await h.appointment('in_call');
    await put(id, sampleDraft());
    for (const who of ['colleague', 'otherClinicDoctor', 'operator', 'partner', 'otherPatient']) {
      const r = await h.call('GET', `/api/records/appointments/${id}/encounter`, { token: tok[who] });
      expect(r.status, who).toBe(404);
      expect((await put(id, sampleDraft(), {}, tok[who])).status, who).toBe(404);
    }
    expect(
      (await h.call('GET', `/api/records/appointments/${id}/encounter`, { token: tok.patient })).status,
    ).toBe(403);
  });

  it('the record: encounters with conditions, active diagnoses, documents and recommendations, for the patient and the treating doctor', async () => {
    for (const who of ['patient', 'doctor']) {
      const r = await h.call('GET', `/api/patients/${h.seed.patientId}/record`, { token: tok[who] });
      expect(r.status, who).toBe(200);
      const enc = r.body.encounters.find((e: { id: string }) => e.id === finalised.encounterId);
      expect(enc).toMatchObject({
        version: 1,
        content: { reasonForVisit: 'Low mood and poor sleep for six weeks.' },
        conditions: [
          { code: 'F32.1', status: 'active' },
          { code: 'F51.01', display: 'Insomnia, primary' },
        ],
      });
      expect(r.body.diagnoses.active.map((d: { code: string }) => d.code)).toEqual(
        expect.arrayContaining(['F32.1', 'F51.01']),
      );
      expect(r.body.recommendations.map((x: { text: string }) => x.text)).toContain('Sleep hygiene leaflet.');
      const kinds = r.body.documents
        .filter((d: { encounterId: string }) => d.encounterId === finalised.encounterId)
        .map((d: { kind: string; name: string }) => `${d.kind}:${d.name.endsWith('.pdf')}`);
      expect(kinds.sort()).toEqual(['chat_file:true', 'summary_pdf:true']);
      expect(r.body.breakGlass).toBe(false);
    }
  });

  it('the guardian reads their dependent’s record acting for them; nobody else reads it', async () => {
    const dependentRecord = await h.call('GET', `/api/patients/${h.seed.dependentId}/record`, {
      token: tok.guardian,
      headers: { 'x-on-behalf-of': h.seed.dependentId },
    });
    expect(dependentRecord.status).toBe(200);
    expect(dependentRecord.body.encounters).toEqual([]);
    const expected: Record<string, number> = {
      otherPatient: 404,
      partner: 404,
      otherClinicDoctor: 404,
      guardian: 404,
      operator: 403,
      colleague: 403,
    };
    for (const [who, status] of Object.entries(expected)) {
      const r = await h.call('GET', `/api/patients/${h.seed.patientId}/record`, { token: tok[who] });
      expect(r.status, who).toBe(status);
      expect(JSON.stringify(r.body), who).not.toMatch(/Low mood|F32/);
      const doc = await h.call('GET', `/api/records/documents/${finalised.documentId}/content`, {
        token: tok[who],
      });
      expect(doc.status, who).toBe(status);
      expect(doc.bytes.includes(Buffer.from('%PDF')), who).toBe(false);
      const version = await h.call('GET', `/api/records/encounters/${finalised.encounterId}`, {
        token: tok[who],
      });
      expect(version.status, who).toBe(status);
    }
  });

  it('break-glass reads the record with the flag in the audit entry', async () => {
    await h.db.insert(breakGlassGrants).values({
      id: crypto.randomUUID(),
      doctorId: h.seed.otherDoctorId,
      patientId: h.seed.patientId,
      clinicId: h.seed.clinicId,
      reason: 'unconscious patient in the emergency room',
      expiresAt: new Date(Date.now() + 600_000),
    });
    const r = await h.call('GET', `/api/patients/${h.seed.patientId}/record`, { token: tok.colleague });
    expect(r.status).toBe(200);
    expect(r.body.breakGlass).toBe(true);
    const [entry] = await h.db
      .select()
      .from(auditLog)
      .where(
        and(
          eq(auditLog.actorId, h.seed.otherDoctorId),
          eq(auditLog.action, 'record.read'),
          eq(auditLog.outcome, 'allowed'),
        ),
      );
    expect(entry).toMatchObject({ breakGlass: true, patientId: h.seed.patientId });
  });

  it('downloads the signed PDF as an attachment; pdfsig says valid, and invalid after one changed byte', async () => {
    const r = await h.call('GET', `/api/records/documents/${finalised.documentId}/content`, {
      token: tok.patient,
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/pdf');
    expect(r.headers.get('content-disposition')).toMatch(
      /^attachment; filename="consultation-summary-\d{4}-\d{2}-\d{2}\.pdf"/,
    );
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    const file = dir.file('summary.pdf', r.bytes);
    const report = await pdfsig(file, nss);
    expect(report).toContain('Signature Validation: Signature is Valid.');
    expect(report).toContain('Certificate Validation: Certificate is Trusted.');
    expect(report).toContain('Total document signed');
    const text = await pdftotext(file);
    expect(text).toContain('F32.1');
    expect(text).toContain('Sertraline 50 mg once daily.');
    expect(text).toContain('In 4 weeks.');
    const changed = Buffer.from(r.bytes);
    const at = changed.indexOf('stream', changed.length - 2000) - 40;
    changed[at] = changed[at]! ^ 0xff;
    const broken = await pdfsig(dir.file('changed.pdf', changed), nss);
    expect(broken).not.toContain('Signature is Valid');
    expect(broken).toMatch(/Digest Mismatch|Signature is Invalid/);
    // The chat file of the consultation downloads from the record too, byte for byte.
    const record = await h.call('GET', `/api/patients/${h.seed.patientId}/record`, { token: tok.patient });
    const chat = record.body.documents.find(
      (d: { kind: string; encounterId: string }) =>
        d.kind === 'chat_file' && d.encounterId === finalised.encounterId,
    );
    const got = await h.call('GET', chat.url, { token: tok.patient });
    expect(got.status).toBe(200);
    expect(got.bytes.equals(SMALL_PDF)).toBe(true);
    expect(got.headers.get('content-disposition')).toContain("filename*=UTF-8''befund%20M%C3%A4rz.pdf");
  });

  it('an amendment is a new signed version with who and why; the old one stays readable; verification says which is latest', async () => {
    const original = await h.call('GET', `/api/records/documents/${finalised.documentId}/content`, {
      token: tok.doctor,
    });
    const amend = (body: unknown, token = tok.doctor) =>
      h.call('POST', `/api/records/appointments/${appointmentId}/encounter/amendments`, { token, body });
    const refused = await amend(
      { reason: 'Corrected diagnosis', content: sampleDraft({ diagnoses: [{ code: 'F41.1' }] }) },
      tok.colleague,
    );
    expect(refused.status).toBe(404);
    const amended = await amend({
      reason: 'Corrected diagnosis after the lab results arrived',
      amends: finalised.encounterId,
      content: sampleDraft({ diagnoses: [{ code: 'F41.1' }, { code: 'F32.1', status: 'resolved' }] }),
    });
    expect(amended.status).toBe(201);
    expect(amended.body).toMatchObject({ version: 2, appointmentCompleted: false });
    // A second amendment of version 1 (another tab): 409.
    const late = await amend({
      reason: 'Another correction',
      amends: finalised.encounterId,
      content: sampleDraft(),
    });
    expect(late.status).toBe(409);

    const record = await h.call('GET', `/api/patients/${h.seed.patientId}/record`, { token: tok.patient });
    const enc = record.body.encounters.find(
      (e: { appointmentId: string }) => e.appointmentId === appointmentId,
    );
    expect(enc).toMatchObject({
      id: amended.body.encounterId,
      version: 2,
      previousId: finalised.encounterId,
      authorId: h.seed.doctorId,
      amendmentReason: 'Corrected diagnosis after the lab results arrived',
    });
    expect(enc.history.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    expect(record.body.diagnoses.resolved.map((d: { code: string }) => d.code)).toContain('F32.1');
    expect(record.body.diagnoses.active.map((d: { code: string }) => d.code)).toContain('F41.1');
    const old = await h.call('GET', `/api/records/encounters/${finalised.encounterId}`, {
      token: tok.patient,
    });
    expect(old.status).toBe(200);
    expect(old.body).toMatchObject({ version: 1, latest: false, latestId: amended.body.encounterId });
    expect(old.body.conditions.map((c: { code: string }) => c.code)).toEqual(['F32.1', 'F51.01']);
    const [v1] = await h.db.select().from(encounters).where(eq(encounters.id, finalised.encounterId));
    expect(v1!.status).toBe('finalised');

    // Verification: the old PDF is intact but no longer the latest; the new one is both.
    const oldCheck = await h.call('POST', '/api/records/verify', {
      raw: original.bytes,
      headers: { 'content-type': 'application/pdf' },
    });
    expect(oldCheck.status).toBe(200);
    expect(oldCheck.body).toMatchObject({
      signature: { valid: true, intact: true, trusted: true, signer: { clinicId: h.seed.clinicId } },
      document: { id: finalised.documentId, version: 1, latest: false, latestVersion: 2 },
    });
    const newCheck = await h.call('GET', `/api/records/verify/${amended.body.documentId}`);
    expect(newCheck.status).toBe(200);
    expect(newCheck.body).toMatchObject({
      signature: { valid: true },
      document: { version: 2, latest: true },
    });
    const newPdf = await h.call('GET', `/api/records/documents/${amended.body.documentId}/content`, {
      token: tok.patient,
    });
    expect(await pdftotext(dir.file('amended.pdf', newPdf.bytes))).toContain('Amended record (version 2)');
    expect(await pdfsig(dir.file('amended.pdf', newPdf.bytes), nss)).toContain('Signature is Valid.');
  });

  it('the public verification: a changed byte is not intact, a non-PDF is 400, an oversized upload 413, an unknown id 404', async () => {
    const pdf = await h.call('GET', `/api/records/documents/${finalised.documentId}/content`, {
      token: tok.patient,
    });
    const changed = Buffer.from(pdf.bytes);
    const at = changed.indexOf('stream', changed.length - 2000) - 40;
    changed[at] = changed[at]! ^ 0xff;
    const bad = await h.call('POST', '/api/records/verify', {
      raw: changed,
      headers: { 'content-type': 'application/pdf' },
    });
    expect(bad.status).toBe(200);
    expect(bad.body.signature).toMatchObject({ valid: false, intact: false });
    expect(bad.body.document).toBeNull();
    const notPdf = await h.call('POST', '/api/records/verify', {
      raw: Buffer.from('hello'),
      headers: { 'content-type': 'application/pdf' },
    });
    expect(notPdf.status).toBe(400);
    expect(notPdf.body.code).toBe('not_a_pdf');
    const big = await h.call('POST', '/api/records/verify', {
      raw: Buffer.alloc(10 * 1024 * 1024 + 1, 0x25),
      headers: { 'content-type': 'application/pdf' },
    });
    expect(big.status).toBe(413);
    expect(big.contentType).toContain('application/problem+json');
    const unknown = await h.call('GET', `/api/records/verify/${crypto.randomUUID()}`);
    expect(unknown.status).toBe(404);
  });
});
