import type { Db } from '../../db/client.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditQueries } from '../audit/audit-queries.ts';
import type { Messaging } from '../messaging/messaging.ts';
import type { Policy } from '../policy/policy.ts';
import type { Scheduling } from '../scheduling/create-scheduling.ts';
import { capabilityStatement } from './capability.ts';
import type { ResourceProvider } from './provider.ts';
import { RecordAccess } from './record-access.ts';
import { AppointmentBooking } from './resources/appointment-booking.ts';
import { AppointmentProvider } from './resources/appointments.ts';
import { AuditEventProvider } from './resources/audit-events.ts';
import { CommunicationProvider } from './resources/communications.ts';
import { DirectoryAccess } from './resources/directory-access.ts';
import { OrganizationProvider } from './resources/organizations.ts';
import { PatientProvider } from './resources/patients.ts';
import { PractitionerProvider } from './resources/practitioners.ts';
import { ScheduleProvider } from './resources/schedules.ts';
import { SlotProvider } from './resources/slots.ts';

export type FhirDeps = {
  db: Db;
  policy: Policy;
  audit: AuditLog;
  auditQueries: AuditQueries;
  scheduling: Pick<Scheduling, 'clinics' | 'availability' | 'booking' | 'now'>;
  messaging: Messaging;
};

/**
 * The FHIR R4 API's resource types, one provider each, over the services the JSON API uses. A
 * new type (Encounter, Condition, DocumentReference) is one more provider here; the routes, the
 * search parser, the bundles and the CapabilityStatement take it from this list.
 */
export class FhirApi {
  readonly providers: ReadonlyMap<string, ResourceProvider>;

  constructor(deps: FhirDeps) {
    const access = new RecordAccess(deps);
    const directory = new DirectoryAccess(access);
    const { db, scheduling } = deps;
    const patients = new PatientProvider(access);
    const practitioners = new PractitionerProvider(db, directory);
    const schedules = new ScheduleProvider(db, directory, scheduling.clinics);
    const booking = new AppointmentBooking(db, directory, scheduling.booking);
    const list: ResourceProvider[] = [
      patients,
      practitioners,
      new OrganizationProvider(db, directory),
      schedules,
      new SlotProvider(db, directory, schedules, scheduling.availability, scheduling.now),
      new AppointmentProvider(access, patients, practitioners, booking),
      new CommunicationProvider(db, deps.messaging),
      new AuditEventProvider(deps.auditQueries),
    ];
    this.providers = new Map(list.map((p) => [p.type, p]));
  }

  capability(base: string) {
    return capabilityStatement(base, [...this.providers.values()]);
  }
}
