import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The dependency arrows of the architecture (README, "Architecture"), checked on every source file
 * that is not a test: who may import whom, and what a route may reach. A rule broken here is a
 * design change, to be argued in the architecture note first, not silenced in this file.
 */
type Source = { path: string; text: string };

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
const isTest = (path: string) => /\.test\.ts$|\/test-support\/|\.child\.ts$/.test(path);
const isRouteFile = (path: string) => /^server\/.+\/(routes|[a-z-]+-routes)\.ts$/.test(path);

/** Each import of a file: a package name, or a repository path (resolved, relative to the root). */
function importsOf({
  path,
  text,
}: Source): { spec: string; target: string | undefined; pkg: string | undefined }[] {
  return [...text.matchAll(IMPORT)].map((m) => {
    const spec = (m[1] ?? m[2])!;
    if (spec.startsWith('.')) return { spec, target: normalize(join(dirname(path), spec)), pkg: undefined };
    const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
    return { spec, target: undefined, pkg };
  });
}

const under = (path: string, ...folders: string[]) =>
  folders.some((f) => path === f || path.startsWith(`${f}/`));

/** Modules a route must not touch: the database, the policy and the audit log directly, the keys. */
const AROUND_THE_REPOSITORY = [
  'db',
  'server/policy/policy.ts',
  'server/policy/patient-facts.ts',
  'server/audit/audit-log.ts',
  'server/crypto',
];
/** A route that asks the policy or writes the audit log itself, instead of a service or repository doing it. */
const DIRECT_POLICY_OR_AUDIT =
  /\.policy\.(require|allows|patient)\(|\.audit\.(record|append|appendWithin)\(|\bpolicy\.(require|allows|patient)\(/;
/** Shared API plumbing may use these and nothing of the features. */
const API_MAY_IMPORT = [
  'server/api',
  'server/request-context.ts',
  'server/logger.ts',
  'server/batcher.ts',
  'server/policy/types.ts',
  'db/connection-errors.ts',
  'web-client/dist',
];

/**
 * The browser's DOM-free core (session, media session, room client and what they use): the room
 * page, an embeddable widget and Node load bots all run it, so it reaches no page code and no
 * browser-only global; the page hands it what it needs (a socket factory, navigator.mediaDevices).
 */
const CLIENT_CORE = [
  'web-client/src/typed-events.ts',
  'web-client/src/signaling-client.ts',
  'web-client/src/session-client.ts',
  'web-client/src/media-session.ts',
  'web-client/src/room-client.ts',
  'web-client/src/room-client-types.ts',
  'web-client/src/link-stats.ts',
  'web-client/src/stats.ts',
  'web-client/src/media',
];
/** What only pages may import: components, the UI framework, translations, styles, page entries. */
const PAGE_ONLY = /^(web-client\/src\/(ui|i18n)(\/|$)|web-client\/src\/(main|precall)\b)|\.(tsx|css)$/;
const PAGE_ONLY_PACKAGES = new Set(['preact']);
/** Browser-only globals, read as code (comments are stripped first). */
const DOM_GLOBALS =
  /(?:(?<![.\w$])|(?<=globalThis\.))(document|window|navigator|localStorage|sessionStorage|HTMLElement|HTMLMediaElement|requestAnimationFrame)\b/;
const withoutComments = (text: string) =>
  text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');

export function boundaryViolations(sources: Source[]): string[] {
  const out: string[] = [];
  for (const source of sources) {
    const { path } = source;
    if (isTest(path)) continue;
    for (const { spec, target, pkg } of importsOf(source)) {
      const refuse = (rule: string) => out.push(`${path} imports ${spec}: ${rule}`);
      if (under(path, 'sfu')) {
        if (target ? !under(target, 'sfu') : pkg !== 'mediasoup' && !pkg!.startsWith('node:'))
          refuse('sfu imports mediasoup (and itself) only');
      } else if (under(path, 'signaling')) {
        if (target && under(target, 'server', 'db', 'web-client', 'test', 'loadtests'))
          refuse('signaling reaches domain services through small interfaces, never server/ or db/');
      } else if (under(path, 'web-client/src')) {
        if (
          target
            ? !under(target, 'web-client', 'signaling/protocol')
            : pkg === 'mediasoup' || pkg!.startsWith('node:')
        )
          refuse('the browser imports the signaling protocol and its own core only');
        if (under(path, ...CLIENT_CORE) && (target ? PAGE_ONLY.test(target) : PAGE_ONLY_PACKAGES.has(pkg!)))
          refuse('the DOM-free client core imports no page code (ui, i18n, components, styles)');
      } else if (under(path, 'db')) {
        if (target && !under(target, 'db')) refuse('db knows nothing of the layers above it');
      } else if (under(path, 'server')) {
        if (target && under(target, 'web-client', 'test', 'loadtests'))
          refuse('the server does not import the browser, the tests or the load tests');
        if (target && under(path, 'server/api') && !under(target, ...API_MAY_IMPORT))
          refuse('shared API plumbing imports no feature');
        if (
          isRouteFile(path) &&
          (pkg === 'drizzle-orm' || (target && under(target, ...AROUND_THE_REPOSITORY)))
        ) {
          refuse(
            "a route reaches data through its feature's services and repositories, never the database, policy, audit log or keys",
          );
        }
      }
    }
    if (under(path, ...CLIENT_CORE) && DOM_GLOBALS.test(withoutComments(source.text))) {
      const global = DOM_GLOBALS.exec(withoutComments(source.text))![1];
      out.push(`${path} uses ${global}: the DOM-free client core gets browser facilities injected`);
    }
    if (isRouteFile(path) && DIRECT_POLICY_OR_AUDIT.test(source.text)) {
      out.push(
        `${path} calls the policy or the audit log itself: the service or repository decides and audits`,
      );
    }
    if (under(path, 'server') && /new ProblemError\(\s*\d{3},\s*['"`]/.test(source.text))
      out.push(`${path} throws a literal problem code: name it from server/api/problem-codes.ts`);
  }
  return out;
}

function repositorySources(): Source[] {
  const files = execFileSync(
    'git',
    [
      'ls-files',
      '--cached',
      '--others',
      '--exclude-standard',
      'server',
      'signaling',
      'sfu',
      'db',
      'web-client/src',
    ],
    { encoding: 'utf8' },
  )
    .split('\n')
    .filter((f) => /\.(ts|mts)$/.test(f));
  return files.flatMap((path) => {
    try {
      return [{ path, text: readFileSync(path, 'utf8') }];
    } catch {
      return []; // deleted in the work tree, not yet in the index
    }
  });
}

describe('import boundaries', () => {
  it('the DOM-free client core reaching page code or browser globals fails the check', () => {
    expect(
      boundaryViolations([
        {
          path: 'web-client/src/session-client.ts',
          text: "import { t } from './i18n/index.ts';\nimport { h } from 'preact';\nimport { Stage } from './ui/stage.tsx';",
        },
        {
          path: 'web-client/src/media/local-devices.ts',
          text: '// navigator.mediaDevices is injected\nconst d = globalThis.navigator?.mediaDevices;',
        },
        { path: 'web-client/src/media-session.ts', text: 'const el = document.createElement("video");' },
        // Pages may use both: they are not the core.
        { path: 'web-client/src/ui/stage.tsx', text: "import { h } from 'preact';\ndocument.title = 'x';" },
      ]),
    ).toEqual([
      'web-client/src/session-client.ts imports ./i18n/index.ts: the DOM-free client core imports no page code (ui, i18n, components, styles)',
      'web-client/src/session-client.ts imports preact: the DOM-free client core imports no page code (ui, i18n, components, styles)',
      'web-client/src/session-client.ts imports ./ui/stage.tsx: the DOM-free client core imports no page code (ui, i18n, components, styles)',
      'web-client/src/media/local-devices.ts uses navigator: the DOM-free client core gets browser facilities injected',
      'web-client/src/media-session.ts uses document: the DOM-free client core gets browser facilities injected',
    ]);
  });

  it('the repository keeps every arrow of the architecture', () => {
    const sources = repositorySources();
    expect(sources.length).toBeGreaterThan(100);
    expect(boundaryViolations(sources)).toEqual([]);
  });

  it('a route that reaches patient data around the repository fails the check', () => {
    const route: Source = {
      path: 'server/records/notes-export-routes.ts',
      text: "import { Hono } from 'hono';\nimport { eq } from 'drizzle-orm';\nimport { patientNotes } from '../../db/schema/index.ts';\nexport const r = new Hono();\n",
    };
    expect(boundaryViolations([route])).toEqual([
      "server/records/notes-export-routes.ts imports drizzle-orm: a route reaches data through its feature's services and repositories, never the database, policy, audit log or keys",
      "server/records/notes-export-routes.ts imports ../../db/schema/index.ts: a route reaches data through its feature's services and repositories, never the database, policy, audit log or keys",
    ]);
  });

  it('so does a route that asks the policy or writes the audit log itself, and a literal problem code', () => {
    const route: Source = {
      path: 'server/records/routes.ts',
      text: "await identity.policy.require(actor, 'patient.notes.read', facts);\nawait identity.audit.record(entry);\nthrow new ProblemError(404, 'not_found', 'x');\n",
    };
    expect(boundaryViolations([route])).toEqual([
      'server/records/routes.ts calls the policy or the audit log itself: the service or repository decides and audits',
      'server/records/routes.ts throws a literal problem code: name it from server/api/problem-codes.ts',
    ]);
  });

  it('and the tiers: the SFU importing the database, signaling importing the server, the browser importing mediasoup', () => {
    expect(
      boundaryViolations([
        {
          path: 'sfu/room.ts',
          text: "import { openDb } from '../db/client.ts';\nimport { Router } from 'mediasoup';\nimport pino from 'pino';",
        },
        {
          path: 'signaling/room.ts',
          text: "import { Policy } from '../server/policy/policy.ts';\nimport type { Protocol } from './protocol/index.ts';",
        },
        {
          path: 'web-client/src/app.ts',
          text: "import { Worker } from 'mediasoup';\nimport { x } from '../../signaling/protocol/index.ts';",
        },
        { path: 'server/api/errors.ts', text: "import { Identity } from '../identity/create-identity.ts';" },
      ]),
    ).toEqual([
      'sfu/room.ts imports ../db/client.ts: sfu imports mediasoup (and itself) only',
      'sfu/room.ts imports pino: sfu imports mediasoup (and itself) only',
      'signaling/room.ts imports ../server/policy/policy.ts: signaling reaches domain services through small interfaces, never server/ or db/',
      'web-client/src/app.ts imports mediasoup: the browser imports the signaling protocol and its own core only',
      'server/api/errors.ts imports ../identity/create-identity.ts: shared API plumbing imports no feature',
    ]);
  });
});
