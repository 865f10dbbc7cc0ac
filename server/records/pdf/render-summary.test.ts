import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.ts';
import { pdffonts, pdfinfo, pdftotext, scratchDir } from '../test-support/poppler.ts';
import { largestSummary, sampleSummary } from '../test-support/sample-summary.ts';
import { loadPdfFonts, PdfFontError } from './fonts.ts';
import { renderSummaryPdf } from './render-summary.ts';
import { SummaryInputError, type SummaryInput } from './summary-input.ts';

const fonts = loadPdfFonts(loadConfig({}).records.pdfFontDir);
const dir = scratchDir();
afterAll(() => dir.remove());

const pages = (info: string) => Number(/^Pages:\s+(\d+)/m.exec(info)?.[1]);

describe('consultation summary PDF', () => {
  it('shows clinic, doctor, patient, date, diagnoses with codes, recommendations and follow-up, Unicode names intact', async () => {
    const file = dir.file('sample.pdf', await renderSummaryPdf(sampleSummary(), { fonts }));
    const text = (await pdftotext(file)).normalize('NFC');
    for (const expected of [
      'Fjordklinikken Ålesund',
      'Dr. Zoë Łukasiewicz, MD, general practitioner',
      'Jürgen Ødegård (born 7 March 1984)',
      '30 November 2026 at 10:30 CET',
      'F32.1',
      'Major depressive disorder, single episode, moderate',
      'F51.01',
      'Primary insomnia',
      'Sertraline 50 mg once daily',
      'Video follow-up in four weeks.',
      'Reason for visit',
      'Document doc_8f3a2c91',
      'Page 1 of 1',
    ]) {
      expect(text).toContain(expected);
    }
    // The glyphs come from the embedded font, not from whatever the reader substitutes.
    const fontList = await pdffonts(file);
    expect(fontList).toMatch(/\+DejaVuSans\s+CID TrueType\s+Identity-H\s+yes\s+yes\s+yes/);
    expect(fontList).toMatch(/\+DejaVuSans-Bold\s+CID TrueType\s+Identity-H\s+yes\s+yes\s+yes/);
    expect(pages(await pdfinfo(file))).toBe(1);
  });

  it('keeps PHI out of the document metadata', async () => {
    const info = await pdfinfo(
      dir.file(
        'meta.pdf',
        await renderSummaryPdf(sampleSummary(), { fonts, createdAt: new Date('2026-12-01T08:00:00Z') }),
      ),
    );
    expect(info).toMatch(/^Title:\s+Consultation summary$/m);
    expect(info).toMatch(/^Subject:\s+Document doc_8f3a2c91$/m);
    expect(info).not.toMatch(/Jürgen|Ødegård|F32|depress/i);
  });

  it('fits the largest allowed summary on two pages, with a footer on each', async () => {
    const file = dir.file('largest.pdf', await renderSummaryPdf(largestSummary(), { fonts }));
    expect(pages(await pdfinfo(file))).toBe(2);
    const text = await pdftotext(file);
    expect(text).toContain('Page 1 of 2');
    expect(text).toContain('Page 2 of 2');
    expect(text).toContain('follow0word');
  });

  it('refuses bad input with the fields named', async () => {
    const cases: [Partial<SummaryInput>, string][] = [
      [{ diagnoses: [] }, 'diagnoses'],
      [{ diagnoses: [{ code: 'not-a-code', title: 'x' }] }, 'diagnoses.0.code'],
      [{ patient: { name: 'Jürgen\u0000Ødegård' } }, 'patient.name'],
      [{ patient: { name: 'Zo\ud800ë' } }, 'patient.name'],
      [{ patient: { name: '   ' } }, 'patient.name'],
      [{ timeZone: 'Mars/Olympus_Mons' }, 'timeZone'],
      [{ consultedAt: new Date('nope') }, 'consultedAt'],
      [{ recommendations: Array.from({ length: 9 }, () => 'rest') }, 'recommendations'],
      [{ findings: 'x'.repeat(1001) }, 'findings'],
      [{ documentId: '../etc/passwd' }, 'documentId'],
      [{ verifyUrl: 'javascript:alert(1)' }, 'verifyUrl'],
    ];
    for (const [override, field] of cases) {
      const err = await renderSummaryPdf(sampleSummary(override), { fonts }).catch((e: unknown) => e);
      expect(err, field).toBeInstanceOf(SummaryInputError);
      expect(
        (err as SummaryInputError).errors.map((e) => e.field),
        field,
      ).toContain(field);
    }
  });

  it('names a missing font directory clearly', () => {
    expect(() => loadPdfFonts('/nonexistent/fonts')).toThrow(PdfFontError);
    expect(() => loadPdfFonts('/nonexistent/fonts')).toThrow(/RECORDS_PDF_FONT_DIR/);
  });
});
