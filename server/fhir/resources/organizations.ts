import type { Organization } from '@medplum/fhirtypes';
import { asc, inArray } from 'drizzle-orm';
import type { Db } from '../../../db/client.ts';
import { clinics } from '../../../db/schema/index.ts';
import type { Actor } from '../../policy/types.ts';
import { fhirNotFound } from '../operation-outcome.ts';
import type { ResourceProvider, SearchPage } from '../provider.ts';
import { decodeCursor, type ParsedSearch } from '../search-params.ts';
import type { DirectoryAccess } from './directory-access.ts';

type ClinicRow = typeof clinics.$inferSelect;
const isCursor = (v: unknown): v is { after: string } =>
  typeof v === 'object' && v !== null && typeof (v as { after?: unknown }).after === 'string';

export const toOrganization = (row: Pick<ClinicRow, 'id' | 'name'>): Organization => ({
  resourceType: 'Organization',
  id: row.id,
  active: true,
  type: [
    {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/organization-type',
          code: 'prov',
          display: 'Healthcare Provider',
        },
      ],
    },
  ],
  name: row.name,
});

/** Clinics as Organizations: the caller's own clinics. */
export class OrganizationProvider implements ResourceProvider {
  readonly type = 'Organization' as const;
  readonly documentation = "The caller's clinics.";
  readonly params = [];
  readonly includes = [];

  constructor(
    private readonly db: Db,
    private readonly directory: DirectoryAccess,
  ) {}

  async read(actor: Actor, id: string): Promise<Organization> {
    const [clinicId] = this.directory.requireClinic(actor, [id], 'Organization');
    const [row] = await this.db
      .select()
      .from(clinics)
      .where(inArray(clinics.id, [clinicId!]));
    if (!row) throw fhirNotFound('Organization');
    return toOrganization(row);
  }

  async search(actor: Actor, s: ParsedSearch): Promise<SearchPage> {
    const after = decodeCursor(s.cursor, isCursor)?.after;
    const ids = this.directory
      .visibleClinics(actor, actor.clinicIds)
      .filter((id) => (!s.ids || s.ids.includes(id)) && (after === undefined || id > after));
    if (!ids.length) return { matches: [] };
    const rows = await this.db
      .select()
      .from(clinics)
      .where(inArray(clinics.id, ids))
      .orderBy(asc(clinics.id));
    const page = rows.slice(0, s.count);
    return {
      matches: page.map(toOrganization),
      ...(rows.length > s.count ? { next: { after: page[page.length - 1]!.id } } : {}),
    };
  }
}
