import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import type { ResourceProvider } from './provider.ts';
import { MAX_COUNT } from './search-params.ts';

/** When what this statement describes last changed (a CapabilityStatement's date). */
const STATEMENT_DATE = '2026-12-04';

/**
 * The CapabilityStatement, built from the providers themselves: a type, interaction, parameter
 * or include is listed exactly when a provider implements it.
 */
export function capabilityStatement(
  base: string,
  providers: readonly ResourceProvider[],
): CapabilityStatement {
  const resource = providers.map((p): CapabilityStatementRestResource => ({
    type: p.type,
    documentation: p.documentation,
    interaction: [
      { code: 'read' },
      { code: 'search-type' },
      ...(p.create ? [{ code: 'create' as const }] : []),
    ],
    versioning: 'no-version',
    readHistory: false,
    updateCreate: false,
    searchParam: [
      { name: '_id', type: 'token', documentation: 'Logical id; several comma-separated.' },
      ...p.params.flatMap((s) => [
        { name: s.name, type: s.type, documentation: s.documentation },
        ...(s.alias ? [{ name: s.alias, type: s.type, documentation: `Same as ${s.name}.` }] : []),
      ]),
    ],
    ...(p.includes.length ? { searchInclude: [...p.includes] } : {}),
  }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: STATEMENT_DATE,
    publisher: 'CareCall',
    kind: 'instance',
    software: { name: 'CareCall' },
    implementation: { description: 'CareCall FHIR R4 API', url: base },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        documentation:
          `Searches answer Bundles of type searchset, at most ${MAX_COUNT} entries a page (_count, default 20), ` +
          'with an opaque _cursor in the next link. Unknown parameters, modifiers and prefixes other than ' +
          'eq, lt, le, gt, ge are refused with 400.',
        security: {
          description:
            'Authorization: Bearer <access token> from the CareCall sign-in (POST /api/auth/login); ' +
            'a guardian acts for a dependent with X-On-Behalf-Of: <patient id>.',
        },
        resource,
      },
    ],
  };
}
