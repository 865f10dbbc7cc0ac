import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';

export type ParamType = 'token' | 'reference' | 'date';

/** One search parameter a resource type supports, as the CapabilityStatement lists it. */
export type SearchParamSpec = {
  name: string;
  type: ParamType;
  documentation: string;
  /** Reference parameters: the resource types a value may name. */
  target?: readonly string[];
  /** Another name for the same parameter (subject for patient): one of the two, not both. */
  alias?: string;
};

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 100;
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const PREFIXES = new Set(['eq', 'lt', 'le', 'gt', 'ge']);
/** The R4 prefixes this server does not implement: named as such, not as malformed. */
const UNSUPPORTED_PREFIXES = new Set(['ne', 'sa', 'eb', 'ap']);
const DATE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/;

/** A date search value as the instants [from, to) it allows; either end open. */
export type DateRange = { from?: Date; to?: Date };
export type Reference = { type: string; id: string };

/** A parsed, checked search: the values of the type's own parameters plus the common ones. */
export type ParsedSearch = {
  ids: string[] | undefined;
  count: number;
  cursor: string | undefined;
  includes: string[];
  tokens: Map<string, string[]>;
  refs: Map<string, Reference>;
  dates: Map<string, DateRange>;
};

const invalid = (field: string, message: string) =>
  new ProblemError(400, PROBLEM.invalidQuery, 'the search is invalid', [{ field, message }]);

/**
 * Parses a query against the parameters a resource type declares. Anything it does not know is
 * refused (400) rather than ignored: an EHR that filters on a parameter we do not implement would
 * otherwise receive everything and take it for the filtered answer.
 */
export function parseSearch(
  query: URLSearchParams,
  specs: readonly SearchParamSpec[],
  includes: readonly string[],
): ParsedSearch {
  const search: ParsedSearch = {
    ids: undefined,
    count: DEFAULT_COUNT,
    cursor: undefined,
    includes: [],
    tokens: new Map(),
    refs: new Map(),
    dates: new Map(),
  };
  const byName = new Map(
    specs.flatMap((s) => [[s.name, s] as const, ...(s.alias ? [[s.alias, s] as const] : [])]),
  );
  const seen = new Set<string>();
  for (const [key, value] of query) {
    if (key === '_format') continue; // checked with the Accept header (routes)
    const [name, modifier] = key.split(':', 2) as [string, string | undefined];
    if (modifier !== undefined) throw invalid(key, 'modifiers are not supported');
    if (key === '_include') {
      if (!includes.includes(value)) throw invalid(key, `supported: ${includes.join(', ') || 'none'}`);
      search.includes.push(value);
      continue;
    }
    const spec = byName.get(name);
    const canonical = spec?.name ?? name;
    if (seen.has(canonical) && spec?.type !== 'date')
      throw invalid(key, spec?.alias ? `give ${spec.name} or ${spec.alias} once` : 'give it once');
    seen.add(canonical);
    if (name === '_id') search.ids = tokenList(key, value).map((id) => fhirId(key, id));
    else if (name === '_count') search.count = countValue(value);
    else if (name === '_cursor') search.cursor = nonEmpty(key, value);
    else if (!spec) throw invalid(key, 'unknown search parameter');
    else if (spec.type === 'token') search.tokens.set(spec.name, tokenList(key, value));
    else if (spec.type === 'reference')
      search.refs.set(spec.name, referenceValue(key, value, spec.target ?? []));
    else search.dates.set(spec.name, intersect(search.dates.get(spec.name) ?? {}, dateValue(key, value)));
  }
  return search;
}

function nonEmpty(key: string, value: string) {
  if (!value) throw invalid(key, 'must not be empty');
  return value;
}

/** Comma-separated alternatives (status=booked,fulfilled); a system|code value keeps its code. */
function tokenList(key: string, value: string): string[] {
  const codes = nonEmpty(key, value)
    .split(',')
    .map((v) => (v.includes('|') ? v.slice(v.indexOf('|') + 1) : v));
  if (codes.some((c) => !c || c.length > 64))
    throw invalid(key, 'each value must be a code of 1-64 characters');
  return codes;
}

function fhirId(key: string, id: string) {
  if (!FHIR_ID.test(id)) throw invalid(key, 'must be a FHIR id (letters, digits, - and ., at most 64)');
  return id;
}

function countValue(value: string): number {
  const n = /^\d{1,4}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_COUNT)) throw invalid('_count', `must be a whole number from 1 to ${MAX_COUNT}`);
  return n;
}

/** Patient/123, 123 (when only one type fits) or an absolute URL ending in Type/id. */
function referenceValue(key: string, value: string, targets: readonly string[]): Reference {
  const parts = nonEmpty(key, value).split('/');
  const id = parts[parts.length - 1]!;
  const type = parts.length > 1 ? parts[parts.length - 2]! : targets.length === 1 ? targets[0]! : '';
  if (!type) throw invalid(key, `name the type: ${targets.map((t) => `${t}/<id>`).join(' or ')}`);
  if (!targets.includes(type)) throw invalid(key, `must reference ${targets.join(' or ')}`);
  return { type, id: fhirId(key, id) };
}

/**
 * A date value with an optional prefix, as the instants it allows. The value is a range (its
 * precision: a day, a month, a second); a date without a time is a UTC day. For a point in time t:
 * eq: t within the range, lt: before it, le: before its end, gt: at or after its end, ge: at or
 * after its start.
 */
export function dateValue(key: string, raw: string): DateRange {
  const prefix = /^[a-z]{2}/.test(raw) ? raw.slice(0, 2) : 'eq';
  if (UNSUPPORTED_PREFIXES.has(prefix)) throw invalid(key, `the prefix ${prefix} is not supported`);
  if (!PREFIXES.has(prefix)) throw invalid(key, 'prefix must be one of eq, lt, le, gt, ge');
  const text = /^[a-z]{2}/.test(raw) ? raw.slice(2) : raw;
  const m = DATE.exec(text);
  if (!m) throw invalid(key, 'must be a date (YYYY, YYYY-MM, YYYY-MM-DD) or a date-time with a zone');
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  if (h !== undefined && !zone) throw invalid(key, 'a date-time needs a zone (Z or +hh:mm)');
  const lo = parseStart(y!, mo, d, h, mi, s, frac, zone);
  if (!lo) throw invalid(key, 'is not a real date');
  const hi = rangeEnd(lo, { mo, d, h, s, frac });
  switch (prefix) {
    case 'lt':
      return { to: lo };
    case 'le':
      return { to: hi };
    case 'gt':
      return { from: hi };
    case 'ge':
      return { from: lo };
    default:
      return { from: lo, to: hi };
  }
}

function parseStart(
  y: string,
  mo?: string,
  d?: string,
  h?: string,
  mi?: string,
  s?: string,
  frac?: string,
  zone?: string,
): Date | undefined {
  const iso = `${y}-${mo ?? '01'}-${d ?? '01'}T${h ?? '00'}:${mi ?? '00'}:${s ?? '00'}${frac ? frac.slice(0, 4) : ''}${zone ?? 'Z'}`;
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return undefined;
  // Date() rolls 2027-02-30 over into March: a date that does not exist is refused instead.
  const back = new Date(`${y}-${mo ?? '01'}-${d ?? '01'}T00:00:00Z`);
  if (back.getUTCMonth() + 1 !== Number(mo ?? '01') || back.getUTCDate() !== Number(d ?? '01'))
    return undefined;
  if (Number(h ?? 0) > 23 || Number(mi ?? 0) > 59 || Number(s ?? 0) > 59) return undefined;
  return at;
}

function rangeEnd(lo: Date, p: { mo?: string; d?: string; h?: string; s?: string; frac?: string }): Date {
  const t = new Date(lo);
  if (p.frac) return new Date(lo.getTime() + 1);
  if (p.s !== undefined) return new Date(lo.getTime() + 1000);
  if (p.h !== undefined) return new Date(lo.getTime() + 60_000);
  if (p.d !== undefined) t.setUTCDate(t.getUTCDate() + 1);
  else if (p.mo !== undefined) t.setUTCMonth(t.getUTCMonth() + 1);
  else t.setUTCFullYear(t.getUTCFullYear() + 1);
  return t;
}

/** Several date values of one parameter all hold (date=ge2027-01-01&date=lt2027-02-01). */
function intersect(a: DateRange, b: DateRange): DateRange {
  const from = a.from && b.from ? (a.from > b.from ? a.from : b.from) : (a.from ?? b.from);
  const to = a.to && b.to ? (a.to < b.to ? a.to : b.to) : (a.to ?? b.to);
  return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
}

/** An empty range (ge after lt) matches nothing; searches answer it without a query. */
export const emptyRange = (r: DateRange | undefined) => !!r?.from && !!r.to && r.from >= r.to;

/** An opaque cursor: the provider's position, base64url JSON. A client only hands it back. */
export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor<T>(raw: string | undefined, check: (v: unknown) => v is T): T | undefined {
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalid('_cursor', 'not a cursor this server gave out');
  }
  if (!check(value)) throw invalid('_cursor', 'not a cursor this server gave out');
  return value;
}
