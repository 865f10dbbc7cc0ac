import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fontkit from 'fontkit';

/**
 * The TrueType fonts a summary embeds (subset), so every reader shows names like "Jürgen Ødegård"
 * the same. Parsed once: pdfkit takes a parsed fontkit font, and re-parsing DejaVu's layout tables
 * for every document was most of a summary's cost.
 */
export type PdfFonts = { readonly regular: ParsedFont; readonly bold: ParsedFont };
/** A fontkit font, opaque here (pdfkit uses it). */
export type ParsedFont = { readonly postscriptName: string; layout: (...args: never[]) => unknown };

export const FONT_FILES = { regular: 'DejaVuSans.ttf', bold: 'DejaVuSans-Bold.ttf' } as const;

export class PdfFontError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PdfFontError';
  }
}

/**
 * Reads DejaVu Sans (Debian fonts-dejavu-core; RECORDS_PDF_FONT_DIR). DejaVu covers Latin, Greek and
 * Cyrillic with their diacritics; the standard 14 PDF fonts cover only WinAnsi.
 */
export function loadPdfFonts(dir: string): PdfFonts {
  const open = (file: string): ParsedFont => {
    const path = join(dir, file);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new PdfFontError(
        `cannot read the PDF font ${path} (${(err as NodeJS.ErrnoException).code}); install fonts-dejavu-core or set RECORDS_PDF_FONT_DIR`,
      );
    }
    let font: unknown;
    try {
      font = fontkit.create(bytes);
    } catch {
      throw new PdfFontError(`${path} is not a TrueType font`);
    }
    if (typeof (font as ParsedFont).layout !== 'function')
      throw new PdfFontError(`${path} is a font collection, not a single TrueType font`);
    return font as ParsedFont;
  };
  return { regular: open(FONT_FILES.regular), bold: open(FONT_FILES.bold) };
}
