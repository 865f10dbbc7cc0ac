import type { Actor } from '../../policy/types.ts';
import { fhirNotFound } from '../operation-outcome.ts';
import type { RecordAccess } from '../record-access.ts';

/**
 * The clinic directory (clinics, doctors, their schedules and slots) through FHIR: no PHI, so no
 * audit entries, but the same decision as every FHIR read (fhir.directory.read): members of the
 * clinic who are parties to a record, nobody else.
 */
export class DirectoryAccess {
  constructor(private readonly access: RecordAccess) {}

  /** The clinics of `clinicIds` the actor may see the directory of. */
  visibleClinics(actor: Actor, clinicIds: readonly string[]): string[] {
    return clinicIds.filter((clinicId) =>
      this.access.row(actor, 'fhir.directory.read', { type: 'clinic', clinicId }),
    );
  }

  /** One clinic the actor may see of `clinicIds`, or the 404 of `fhirType`. */
  requireClinic(actor: Actor, clinicIds: readonly string[], fhirType: string): string[] {
    const visible = this.visibleClinics(actor, clinicIds);
    if (!visible.length) throw fhirNotFound(fhirType);
    return visible;
  }
}
