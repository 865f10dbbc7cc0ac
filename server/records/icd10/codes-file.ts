import { readFileSync } from 'node:fs';

/** One diagnosis code as shipped in the data file. */
export type Icd10Entry = { code: string; title: string };
export type Icd10CodeList = { release: string; codes: Icd10Entry[] };

/** The ICD-10-CM shape, dot included: a letter, a digit, a digit or letter, then optionally "." and 1–4 more. */
export const ICD10_CODE_PATTERN = /^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$/;
const MAX_TITLE_LENGTH = 300;

export const CURATED_CODES_FILE = new URL('./data/icd10cm-curated.txt', import.meta.url);

export class Icd10DataFileError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`ICD-10 data file, line ${line}: ${message}`);
    this.name = 'Icd10DataFileError';
  }
}

/**
 * Parses the code list format: `# release: <name>` once, other `#` lines are comments, then
 * "<code> <title>" per line. A malformed line stops the load (a half-loaded code list would make
 * valid diagnoses look unknown) and names the line.
 */
export function parseCodeList(text: string): Icd10CodeList {
  let release: string | undefined;
  const codes: Icd10Entry[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    const n = i + 1;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s*release:\s*(.+)$/.exec(line);
      if (m) {
        if (release !== undefined) throw new Icd10DataFileError(n, 'a second "release:" line');
        release = m[1]!.trim();
      }
      return;
    }
    const space = line.indexOf(' ');
    if (space < 0) throw new Icd10DataFileError(n, 'expected "<code> <title>"');
    const code = line.slice(0, space);
    const title = line.slice(space + 1).trim();
    if (!ICD10_CODE_PATTERN.test(code)) throw new Icd10DataFileError(n, `"${code}" is not an ICD-10 code`);
    if (title === '' || title.length > MAX_TITLE_LENGTH)
      throw new Icd10DataFileError(n, `the title must be 1–${MAX_TITLE_LENGTH} characters`);
    if (seen.has(code)) throw new Icd10DataFileError(n, `${code} appears twice`);
    seen.add(code);
    codes.push({ code, title });
  });
  if (release === undefined) throw new Icd10DataFileError(1, 'no "# release: <name>" line');
  if (codes.length === 0) throw new Icd10DataFileError(1, 'no codes');
  return { release, codes };
}

export function readCodeList(file: URL | string = CURATED_CODES_FILE): Icd10CodeList {
  return parseCodeList(readFileSync(file, 'utf8'));
}
