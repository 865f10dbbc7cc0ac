import type { SummaryInput } from '../pdf/summary-input.ts';

/** A realistic summary with names outside ASCII. */
export function sampleSummary(overrides: Partial<SummaryInput> = {}): SummaryInput {
  return {
    documentId: 'doc_8f3a2c91',
    clinic: { name: 'Fjordklinikken Ålesund', address: 'Storgata 1, 6002 Ålesund, Norway' },
    doctor: { name: 'Dr. Zoë Łukasiewicz', qualification: 'MD, general practitioner' },
    patient: { name: 'Jürgen Ødegård', dateOfBirth: '1984-03-07' },
    consultedAt: new Date('2026-11-30T09:30:00Z'),
    timeZone: 'Europe/Oslo',
    reasonForVisit: 'Low mood and poor sleep for six weeks.',
    findings: 'PHQ-9 score 14. No suicidal ideation. Difficulty falling asleep.',
    diagnoses: [
      { code: 'F32.1', title: 'Major depressive disorder, single episode, moderate' },
      { code: 'F51.01', title: 'Primary insomnia' },
    ],
    recommendations: [
      'Sertraline 50 mg once daily; review side effects after two weeks.',
      'Sleep hygiene leaflet; a regular wake-up time.',
      'Contact the clinic or emergency services if thoughts of self-harm appear.',
    ],
    followUp: 'Video follow-up in four weeks.',
    verifyUrl: 'https://carecall.example/verify',
    ...overrides,
  };
}

/** Every field at its maximum length and count: the two-page bound is checked against this. */
export function largestSummary(): SummaryInput {
  const words = (n: number, seed: string) =>
    Array.from({ length: Math.ceil(n / 10) }, (_, i) => `${seed}${i % 7}word`)
      .join(' ')
      .slice(0, n)
      .trim();
  return sampleSummary({
    documentId: 'd'.repeat(64),
    clinic: { name: 'Ø'.repeat(120), address: words(200, 'addr') },
    doctor: { name: 'Ł'.repeat(120), qualification: words(120, 'qual') },
    patient: { name: 'Ü'.repeat(120), dateOfBirth: '1950-01-01' },
    reasonForVisit: words(400, 'reason'),
    findings: words(1000, 'finding'),
    diagnoses: Array.from({ length: 8 }, (_, i) => ({ code: `F3${i}.9`, title: words(200, `diag${i}`) })),
    recommendations: Array.from({ length: 8 }, (_, i) => words(300, `rec${i}`)),
    followUp: words(300, 'follow'),
    verifyUrl: `https://carecall.example/${'v'.repeat(95)}`,
  });
}
