import { describe, expect, it } from 'vitest';
import { PROBLEM } from '../api/problem-codes.ts';
import { ACTIONS } from '../policy/actions.ts';
import { AUDIT_ACTIONS } from './audit-actions.ts';

const SYSTEMS = [
  'http://dicom.nema.org/resources/ontology/DCM',
  'http://terminology.hl7.org/CodeSystem/audit-event-type',
  'http://hl7.org/fhir/restful-interaction',
];

describe('catalogues', () => {
  it('every policy action is an audit action with a FHIR AuditEvent coding', () => {
    const missing = Object.keys(ACTIONS).filter((a) => !(a in AUDIT_ACTIONS));
    expect(missing, 'policy actions without a coding').toEqual([]);
  });

  it('each coding names a known code system, a code, and a FHIR action code', () => {
    const bad = Object.entries(AUDIT_ACTIONS).filter(
      ([, c]) =>
        !SYSTEMS.includes(c.type.system) ||
        !c.type.code ||
        (c.subtype && !SYSTEMS.includes(c.subtype.system)) ||
        !['C', 'R', 'U', 'D', 'E'].includes(c.action),
    );
    expect(
      bad.map(([a]) => a),
      'actions with a malformed coding',
    ).toEqual([]);
    // PHI reads are reads, and the emergency override is the DICOM code FHIR servers look for.
    expect(AUDIT_ACTIONS['patient.notes.read']).toMatchObject({ type: { code: '110110' }, action: 'R' });
    expect(AUDIT_ACTIONS['patient.break_glass']).toMatchObject({ type: { code: '110127' }, action: 'E' });
  });

  it('problem codes are unique snake_case values', () => {
    const values = Object.values(PROBLEM);
    expect(new Set(values).size, 'duplicate problem codes').toBe(values.length);
    expect(
      values.filter((v) => !/^[a-z][a-z0-9_]*$/.test(v)),
      'codes that are not snake_case',
    ).toEqual([]);
  });
});
