import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

const LOADER = new URL('../../web-client/dist/embed/widget.js', import.meta.url);

describe('the widget loader (/embed/widget.js)', () => {
  it('is built, one self-contained classic script, within its 10 kB budget', () => {
    // npm test builds the web client first (scripts/setup.sh --test); a missing build is a failure here.
    expect(existsSync(LOADER), 'web-client/dist/embed/widget.js: run the vite build').toBe(true);
    const code = readFileSync(LOADER);
    expect(code.length, 'minified bytes').toBeLessThanOrEqual(10 * 1024);
    expect(gzipSync(code).length, 'gzip bytes').toBeLessThanOrEqual(10 * 1024);
    // Loaded with a plain <script src>: a module import or export would be a syntax error there.
    expect(code.toString()).not.toMatch(/^\s*(import|export)\b/m);
  });
});
