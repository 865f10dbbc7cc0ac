import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { Client } from 'fhir-kit-client';
import type { UserRole } from '../../../db/schema/index.ts';
import { ENGINES, openTestEngine, type Engine } from '../../../test/helpers/engines.ts';
import { appOn, createUser, relate, signIn, type IdentityHarness } from '../../../test/helpers/identity.ts';
import { booking, schedulingClinic, type Person } from '../../../test/helpers/scheduling.ts';
import { PATIENT_JURISDICTION_URL } from '../resources/appointment-booking.ts';

export { ENGINES, type Engine };
export type Harness = Pick<IdentityHarness, 'app' | 'services' | 'identity' | 'db' | 'call' | 'clock'> & {
  /** Where links point (the deployment's public URL): the socket listen() opened. */
  origin: { url: string };
  close: () => Promise<void>;
};

/** The real app on a fresh PostgreSQL database or on in-memory PGlite. */
export async function startHarness(engine: Engine = 'postgres'): Promise<Harness> {
  const db = await openTestEngine(engine);
  const origin = { url: 'http://carecall.test' };
  const h = await appOn(
    db.handle,
    {
      AUDIT_CHAIN_KEY: randomBytes(32).toString('base64'),
      DATA_KEK: randomBytes(32).toString('base64'),
      MESSAGE_RATE_BURST: '1000',
    },
    { publicUrl: () => origin.url },
  );
  return { ...h, origin, close: db.close };
}

async function person(h: Harness, role: UserRole, clinicId: string): Promise<Person> {
  const u = await createUser(h.identity, h.db, { role, clinicId });
  const token = (await signIn(h.call, h.db, u.email)).accessToken;
  return {
    id: u.id,
    email: u.email,
    token,
    actor: { userId: u.id, role, sessionId: 'test', clinicIds: [clinicId] },
  };
}

// Monday 29 March 2027 in Berlin (UTC+2): the doctors work 09:00-17:00, 07:00Z-15:00Z.
export const DAY = '2027-03-29';
export const at = (hhmm: string) => `${DAY}T${hhmm}:00+02:00`;

/**
 * Two clinics (each with one person of every role, a guardian and a dependent, a consult type and
 * a doctor with hours), the first clinic's doctor treating its patient and dependent, a colleague
 * who does not, a second patient and a partner there, and appointments booked over the JSON API.
 */
export async function fhirWorld(h: Harness) {
  const north = await schedulingClinic(h, { name: 'North' });
  const south = await schedulingClinic(h, { name: 'South' });
  await relate(h.db, north.clinicId, north.doctor.id, north.patient.id);
  await relate(h.db, north.clinicId, north.doctor.id, north.dependent.id);
  const colleague = await person(h, 'doctor', north.clinicId);
  const otherPatient = await person(h, 'patient', north.clinicId);
  const partner = await person(h, 'partner', north.clinicId);
  const book = async (patientId: string, startsAt: string, token = north.operator.token) => {
    const r = await h.call('POST', '/api/appointments', { token, body: booking(north, patientId, startsAt) });
    if (r.status !== 201) throw new Error(`booking: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.id as string;
  };
  return { north, south, colleague, otherPatient, partner, book };
}
export type FhirWorld = Awaited<ReturnType<typeof fhirWorld>>;

/** The app on a real socket, for a FHIR client that speaks HTTP. */
export async function listen(h: Harness): Promise<{ base: string; stop: () => Promise<void> }> {
  const server: Server = createServer(
    getRequestListener((req, env) =>
      h.app.fetch(req, { remoteAddress: env.incoming.socket.remoteAddress ?? '' }),
    ),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  h.origin.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base: `${h.origin.url}/fhir/R4`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** fhir-kit-client as an EHR integrator sets it up: base URL and bearer token (and acting for a dependent). */
export const fhirClient = (base: string, token: string, headers: Record<string, string> = {}) =>
  new Client({ baseUrl: base, bearerToken: token, customHeaders: headers });

/** The resources of a searchset by mode. */
export const matches = (b: Bundle) =>
  (b.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!);
export const included = (b: Bundle) =>
  (b.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => e.resource!);
export const ids = (rs: Resource[]) => rs.map((r) => `${r.resourceType}/${r.id}`).sort();

/** A FHIR booking of a slot for a patient, as an EHR would send it. */
export const appointmentFor = (slotId: string, patientId: string, jurisdiction = 'DE-BE') => ({
  resourceType: 'Appointment',
  status: 'booked',
  slot: [{ reference: `Slot/${slotId}` }],
  participant: [{ actor: { reference: `Patient/${patientId}` }, status: 'accepted' }],
  extension: [{ url: PATIENT_JURISDICTION_URL, valueCode: jurisdiction }],
});

/** A chat message in an appointment's room conversation, sent by its doctor or patient during the call. */
export async function chatInRoom(h: Harness, who: Person, appointmentId: string, body: string) {
  const chat = h.services.messaging.forActor({ kind: 'user', actor: who.actor, presence: 'admitted' });
  const { id } = await chat.roomConversation(appointmentId);
  return chat.send(id, { id: randomUUID(), body });
}
