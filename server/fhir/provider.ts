import type { Resource } from '@medplum/fhirtypes';
import type { Actor } from '../policy/types.ts';
import type { ParsedSearch, SearchParamSpec } from './search-params.ts';

/** One page of a search: the matches, what _include asked for, and where the next page starts. */
export type SearchPage = {
  matches: Resource[];
  included?: Resource[];
  /** The position after the last match (encoded into the next link), undefined on the last page. */
  next?: unknown;
  /** Given when it costs nothing (everything fitted in one page, or the provider counted anyway). */
  total?: number;
};

/**
 * What the FHIR API knows of one resource type: its search parameters and includes (the
 * CapabilityStatement is built from these, so it lists exactly what is implemented) and how an
 * actor reads, searches and (where supported) creates it. Each provider goes through the policy
 * and the audit log itself; the routes only parse, dispatch and wrap.
 */
export interface ResourceProvider {
  readonly type: Resource['resourceType'];
  readonly documentation: string;
  readonly params: readonly SearchParamSpec[];
  readonly includes: readonly string[];
  read(actor: Actor, id: string): Promise<Resource>;
  search(actor: Actor, search: ParsedSearch): Promise<SearchPage>;
  create?(actor: Actor, body: unknown): Promise<Resource>;
}

/** A reference to a resource this server serves. */
export const ref = (type: string, id: string) => ({ reference: `${type}/${id}` });
