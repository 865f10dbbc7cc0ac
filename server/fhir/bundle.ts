import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { encodeCursor } from './search-params.ts';
import type { SearchPage } from './provider.ts';

/**
 * A search answer as a `searchset` Bundle: matches first, then what _include added (search.mode
 * include), absolute fullUrls, a self link (the request as received) and a next link (the same
 * search with the page's cursor) while there is more.
 */
export function searchBundle(base: string, type: string, query: URLSearchParams, page: SearchPage): Bundle {
  const entry =
    (mode: 'match' | 'include') =>
    (resource: Resource): BundleEntry => ({
      fullUrl: `${base}/${resource.resourceType}/${resource.id}`,
      resource,
      search: { mode },
    });
  const link = [{ relation: 'self', url: searchUrl(base, type, query) }];
  if (page.next !== undefined) {
    const next = new URLSearchParams(query);
    next.set('_cursor', encodeCursor(page.next));
    link.push({ relation: 'next', url: searchUrl(base, type, next) });
  }
  const total =
    page.total ?? (page.next === undefined && !query.has('_cursor') ? page.matches.length : undefined);
  const entries = [...page.matches.map(entry('match')), ...(page.included ?? []).map(entry('include'))];
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    timestamp: new Date().toISOString(),
    ...(total !== undefined ? { total } : {}),
    link,
    ...(entries.length ? { entry: entries } : {}),
  };
}

function searchUrl(base: string, type: string, query: URLSearchParams): string {
  const q = query.toString();
  return `${base}/${type}${q ? `?${q}` : ''}`;
}
