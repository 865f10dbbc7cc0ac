import type { BlockList } from 'node:net';
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Resource } from '@medplum/fhirtypes';
import { ProblemError, requestIdOf } from '../api/errors.ts';
import { requestContext, type ApiEnv } from '../api/middleware.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import { authenticate } from '../identity/authenticate.ts';
import type { Identity } from '../identity/create-identity.ts';
import type { Logger } from '../logger.ts';
import { searchBundle } from './bundle.ts';
import type { FhirApi } from './fhir-api.ts';
import { FHIR_JSON, operationOutcome, problemOf } from './operation-outcome.ts';
import type { ResourceProvider } from './provider.ts';
import { parseSearch } from './search-params.ts';

const JSON_TYPES = /^(application\/(fhir\+json|json|json\+fhir|\*)|\*\/\*)$/;
const FORMATS = new Set(['json', 'application/json', 'application/fhir+json', 'application/json+fhir']);

/** Whether an Accept header (absent: anything) lets us answer in FHIR JSON. */
function acceptsJson(accept: string | undefined): boolean {
  if (!accept) return true;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const refused = params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p));
    return JSON_TYPES.test(type!.trim()) && !refused;
  });
}

const fhirJson = (c: Context, resource: Resource, status: ContentfulStatusCode = 200) =>
  c.body(JSON.stringify(resource), status, { 'content-type': FHIR_JSON });

/**
 * /fhir/R4: the CapabilityStatement (public), then read, search and (where a provider has it)
 * create, behind the API's bearer-token authentication. FHIR JSON only; every error, the
 * authentication's included, is an OperationOutcome with its status.
 */
export function fhirRoutes(
  identity: Identity,
  fhir: FhirApi,
  deps: { logger: Logger; publicUrl: () => string; trustedProxies?: BlockList | undefined },
) {
  const base = (c: Context) => `${deps.publicUrl() || new URL(c.req.url).origin}/fhir/R4`;
  const provider = (type: string): ResourceProvider => {
    const p = fhir.providers.get(type);
    if (!p) throw new ProblemError(404, PROBLEM.notFound, `this server has no resource type ${type}`);
    return p;
  };
  const app = new Hono<ApiEnv>();
  app.onError((err, c) => {
    const requestId = requestIdOf(c);
    const problem = problemOf(err, (level, fields, message) =>
      deps.logger[level]({ requestId, route: c.req.routePath, ...fields }, message),
    );
    if (problem.status === 401) c.header('www-authenticate', 'Bearer realm="CareCall"');
    if (problem.retryAfterSeconds !== undefined)
      c.header('retry-after', String(Math.max(1, Math.ceil(problem.retryAfterSeconds))));
    return fhirJson(c, operationOutcome(problem, requestId), problem.status);
  });
  return app
    .use(requestContext(deps.logger, deps.trustedProxies))
    .use(async (c, next) => {
      const format = c.req.query('_format');
      if (!acceptsJson(c.req.header('accept')) || (format !== undefined && !FORMATS.has(format)))
        throw new ProblemError(
          406,
          PROBLEM.notAcceptable,
          'this server answers in application/fhir+json only',
        );
      await next();
    })
    .get('/metadata', (c) => fhirJson(c, fhir.capability(base(c))))
    .use(authenticate(identity))
    .get('/:type/:id', async (c) => {
      const p = provider(c.req.param('type'));
      return fhirJson(c, await p.read(c.var.actor, c.req.param('id')));
    })
    .get('/:type', async (c) => {
      const type = c.req.param('type');
      const p = provider(type);
      const query = new URL(c.req.url).searchParams;
      const search = parseSearch(query, p.params, p.includes);
      return fhirJson(c, searchBundle(base(c), type, query, await p.search(c.var.actor, search)));
    })
    .post('/:type', async (c) => {
      const p = provider(c.req.param('type'));
      if (!p.create) throw new ProblemError(405, PROBLEM.httpError, `${p.type} cannot be created here`);
      const contentType = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (contentType !== 'application/fhir+json' && contentType !== 'application/json')
        throw new ProblemError(
          415,
          PROBLEM.unsupportedMediaType,
          'send the resource as application/fhir+json',
        );
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        throw new ProblemError(400, PROBLEM.invalidBody, 'the body is not JSON');
      }
      const created = await p.create(c.var.actor, body);
      c.header('location', `${base(c)}/${created.resourceType}/${created.id}`);
      return fhirJson(c, created, 201);
    })
    .all('*', (c) => {
      throw ['PUT', 'PATCH', 'DELETE'].includes(c.req.method)
        ? new ProblemError(405, PROBLEM.httpError, `${c.req.method} is not supported here`)
        : new ProblemError(404, PROBLEM.notFound, 'no such FHIR endpoint');
    });
}
