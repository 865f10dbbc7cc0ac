import PDFDocument from 'pdfkit';
import type { PdfFonts } from './fonts.ts';
import { parseSummaryInput, type ParsedSummary, type SummaryInput } from './summary-input.ts';

export type RenderOptions = {
  fonts: PdfFonts;
  /** Called once all pages are laid out, before the document is written (e.g. a signature placeholder). */
  beforeEnd?: (doc: PDFKit.PDFDocument) => void;
  /** The document's creation date (defaults to now); the signing time when it is signed. */
  createdAt?: Date;
};

const A4 = { width: 595.28, height: 841.89 };
const MARGIN = 56;
const FOOTER_HEIGHT = 40;
const INK = '#1a1a1a';
const MUTED = '#5c5c5c';
const RULE = '#c8c8c8';
const ACCENT = '#0b5d7a';

/**
 * A consultation summary as PDF bytes: clinic, doctor, patient, date, diagnoses with their ICD-10
 * codes, recommendations and follow-up, on one or two A4 pages with a footer on each. The input is
 * validated first (SummaryInputError). Document metadata carries no PHI (a generic title, the
 * document id as subject), as PDF metadata is shown by file managers and indexers.
 */
export async function renderSummaryPdf(input: SummaryInput, opts: RenderOptions): Promise<Buffer> {
  const s = parseSummaryInput(input);
  const createdAt = opts.createdAt ?? new Date();
  const doc = new PDFDocument({
    size: 'A4',
    margins: { top: MARGIN, left: MARGIN, right: MARGIN, bottom: MARGIN + FOOTER_HEIGHT },
    bufferPages: true,
    autoFirstPage: true,
    pdfVersion: '1.7',
    lang: 'en',
    displayTitle: true,
    info: {
      Title: 'Consultation summary',
      Subject: `Document ${s.documentId}`,
      Author: s.clinic.name,
      Creator: 'CareCall',
      Producer: 'CareCall',
      CreationDate: createdAt,
      ModDate: createdAt,
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  // pdfkit accepts a parsed fontkit font here (its typings list only paths and buffers).
  doc.registerFont('regular', opts.fonts.regular as unknown as Buffer);
  doc.registerFont('bold', opts.fonts.bold as unknown as Buffer);
  layOut(doc, s);
  footers(doc, s);
  opts.beforeEnd?.(doc);
  doc.end();
  return done;
}

function layOut(doc: PDFKit.PDFDocument, s: ParsedSummary): void {
  const width = A4.width - 2 * MARGIN;
  doc.fillColor(ACCENT).font('bold').fontSize(17).text(s.clinic.name, { width });
  if (s.clinic.address) doc.fillColor(MUTED).font('regular').fontSize(9).text(s.clinic.address, { width });
  doc.moveDown(0.6);
  rule(doc);
  doc.moveDown(0.6);
  doc.fillColor(INK).font('bold').fontSize(14).text('Consultation summary');
  doc.moveDown(0.5);

  const when = new Intl.DateTimeFormat('en-GB', {
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZone: s.timeZone,
    timeZoneName: 'short',
  }).format(s.consultedAt);
  field(
    doc,
    'Patient',
    s.patient.dateOfBirth ? `${s.patient.name} (born ${formatDate(s.patient.dateOfBirth)})` : s.patient.name,
  );
  field(
    doc,
    'Doctor',
    s.doctor.qualification ? `${s.doctor.name}, ${s.doctor.qualification}` : s.doctor.name,
  );
  field(doc, 'Date', when);
  doc.moveDown(0.4);

  if (s.reasonForVisit) section(doc, 'Reason for visit', () => paragraph(doc, s.reasonForVisit!));
  if (s.findings) section(doc, 'Findings', () => paragraph(doc, s.findings!));
  section(doc, s.diagnoses.length === 1 ? 'Diagnosis' : 'Diagnoses', () => {
    for (const d of s.diagnoses) {
      doc
        .font('bold')
        .fontSize(10)
        .fillColor(INK)
        .text(`${d.code}  `, { continued: true })
        .font('regular')
        .text(d.title, { width });
      doc.moveDown(0.2);
    }
  });
  if (s.recommendations.length > 0) {
    section(doc, 'Recommendations', () => {
      doc
        .font('regular')
        .fontSize(10)
        .fillColor(INK)
        .list(s.recommendations, { width, bulletRadius: 1.6, textIndent: 12, paragraphGap: 3 });
    });
  }
  if (s.followUp) section(doc, 'Follow-up', () => paragraph(doc, s.followUp!));
}

function field(doc: PDFKit.PDFDocument, label: string, value: string): void {
  const y = doc.y;
  doc.font('regular').fontSize(9).fillColor(MUTED).text(label, MARGIN, y, { width: 70 });
  doc
    .font('regular')
    .fontSize(10.5)
    .fillColor(INK)
    .text(value, MARGIN + 74, y, { width: A4.width - 2 * MARGIN - 74 });
  doc.x = MARGIN;
  doc.moveDown(0.25);
}

function section(doc: PDFKit.PDFDocument, heading: string, body: () => void): void {
  // A heading never ends a page alone: start the section on the next page if little room is left.
  if (doc.y > A4.height - MARGIN - FOOTER_HEIGHT - 60) doc.addPage();
  doc.moveDown(0.5);
  doc.x = MARGIN;
  doc.font('bold').fontSize(11.5).fillColor(ACCENT).text(heading);
  doc.moveDown(0.25);
  body();
}

function paragraph(doc: PDFKit.PDFDocument, text: string): void {
  doc
    .font('regular')
    .fontSize(10)
    .fillColor(INK)
    .text(text, { width: A4.width - 2 * MARGIN, lineGap: 1.5 });
}

function rule(doc: PDFKit.PDFDocument): void {
  doc
    .moveTo(MARGIN, doc.y)
    .lineTo(A4.width - MARGIN, doc.y)
    .lineWidth(0.6)
    .strokeColor(RULE)
    .stroke();
}

function footers(doc: PDFKit.PDFDocument, s: ParsedSummary): void {
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const y = A4.height - MARGIN - FOOTER_HEIGHT + 14;
    // Writing below the bottom margin would make pdfkit open a new page: lift the margin while writing.
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc
      .moveTo(MARGIN, y - 6)
      .lineTo(A4.width - MARGIN, y - 6)
      .lineWidth(0.4)
      .strokeColor(RULE)
      .stroke();
    // The clinic is named in the header; the footer stays two lines at most whatever the input.
    doc
      .font('regular')
      .fontSize(7.5)
      .fillColor(MUTED)
      .text(`Document ${s.documentId}`, MARGIN, y, { width: A4.width - 2 * MARGIN - 60, lineBreak: false })
      .text(`Page ${i - range.start + 1} of ${range.count}`, A4.width - MARGIN - 60, y, {
        width: 60,
        align: 'right',
        lineBreak: false,
      });
    if (s.verifyUrl)
      doc.text(`Check its digital signature at ${s.verifyUrl}`, MARGIN, y + 10, {
        width: A4.width - 2 * MARGIN,
        lineBreak: false,
      });
    doc.page.margins.bottom = bottom;
  }
}

/** 1984-03-07 → "7 March 1984", without time-zone arithmetic (a birth date is a calendar date). */
function formatDate(isoDate: string): string {
  const [y, m, d] = isoDate.split('-').map(Number);
  return new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' }).format(
    new Date(Date.UTC(y!, m! - 1, d!)),
  );
}
