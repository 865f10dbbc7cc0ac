import { describe, expect, it } from 'vitest';
import { Icd10DataFileError, parseCodeList } from './codes-file.ts';

describe('the ICD-10 data file format', () => {
  it('reads the release, skips comments and blank lines', () => {
    expect(
      parseCodeList(
        '# a comment\n# release: Test 1\n\nI10 Essential (primary) hypertension\r\nF32.A Depression, unspecified\n',
      ),
    ).toEqual({
      release: 'Test 1',
      codes: [
        { code: 'I10', title: 'Essential (primary) hypertension' },
        { code: 'F32.A', title: 'Depression, unspecified' },
      ],
    });
  });

  it.each([
    ['# release: x\ni10 lower case', 2, 'not an ICD-10 code'],
    ['# release: x\nI10', 2, 'expected'],
    ['# release: x\nI10 A\nI10 B', 3, 'appears twice'],
    ['# release: x\nE11. trailing dot', 2, 'not an ICD-10 code'],
    ['# release: x\nE11.12345 too long', 2, 'not an ICD-10 code'],
    ['I10 no release', 1, 'release'],
    ['# release: x\n# release: y\nI10 A', 2, 'second'],
    ['# release: x\n', 1, 'no codes'],
  ])('refuses %j, naming line %i', (text, line, message) => {
    let err: unknown;
    try {
      parseCodeList(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Icd10DataFileError);
    expect(err).toMatchObject({ line });
    expect((err as Error).message).toContain(message);
  });
});
