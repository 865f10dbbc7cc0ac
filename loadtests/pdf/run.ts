// PDF summary benchmark: consultation summaries generated and signed per second on one thread
// (what the record finalisation will pay per encounter; target >= 50/s including signing), with
// generation alone as the baseline of the same run, and our verifier's rate. Prints JSON and a table.
// Usage: npm run loadtest:pdf   Env: DOCUMENTS (500), WARMUP (50), RECORDS_PDF_FONT_DIR (Debian DejaVu).
import { loadConfig } from '../../server/config.ts';
import { loadPdfFonts } from '../../server/records/pdf/fonts.ts';
import { renderSummaryPdf } from '../../server/records/pdf/render-summary.ts';
import { DeploymentCa } from '../../server/records/signing/ca.ts';
import { createSignedSummary } from '../../server/records/signing/signed-summary.ts';
import { verifySignedPdf } from '../../server/records/signing/verify-pdf.ts';
import { sampleSummary } from '../../server/records/test-support/sample-summary.ts';
import { latencySummary } from '../stats.ts';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const DOCUMENTS = env('DOCUMENTS', 500);
const WARMUP = env('WARMUP', 50);
const TARGET_PER_SECOND = 50;

const config = loadConfig(process.env);
const fonts = loadPdfFonts(config.records.pdfFontDir);
const pems = await DeploymentCa.generate({ commonName: 'CareCall benchmark CA' });
const ca = await DeploymentCa.load(
  { ...config.records, caCertificatePem: pems.certificatePem, caPrivateKeyPem: pems.privateKeyPem },
  { env: 'test' },
);

// A few clinics and patients, so that per-clinic certificates are reused as in production.
const clinics = Array.from({ length: 5 }, (_, i) => ({ id: `clinic-${i}`, name: `Clinic ${i} Ålesund` }));
const inputFor = (i: number) => {
  const clinic = clinics[i % clinics.length]!;
  return {
    clinicId: clinic.id,
    input: sampleSummary({
      documentId: `doc-${i}`,
      clinic: { name: clinic.name },
      patient: { name: `Jürgen Ødegård ${i}` },
    }),
  };
};

const issueStarted = performance.now();
await Promise.all(clinics.map((c) => ca.forClinic(c)));
const issueMsPerClinic = Math.round(((performance.now() - issueStarted) / clinics.length) * 10) / 10;

async function phase(name: string, job: (i: number) => Promise<Buffer>) {
  for (let i = 0; i < WARMUP; i++) await job(i);
  const latencies: number[] = [];
  let bytes = 0;
  let last: Buffer | undefined;
  const started = performance.now();
  for (let i = 0; i < DOCUMENTS; i++) {
    const t = performance.now();
    last = await job(i);
    latencies.push(performance.now() - t);
    bytes += last.length;
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    name,
    documents: DOCUMENTS,
    perSecond: Math.round((DOCUMENTS / seconds) * 10) / 10,
    ...latencySummary(latencies),
    avgBytes: Math.round(bytes / DOCUMENTS),
    last: last!,
  };
}

const generate = await phase('generate', (i) => renderSummaryPdf(inputFor(i).input, { fonts }));
const generateAndSign = await phase('generate+sign', async (i) => {
  const { clinicId, input } = inputFor(i);
  return (await createSignedSummary(input, { ca, fonts, clinicId })).pdf;
});
const verification = await phase('verify', async () => {
  const check = await verifySignedPdf(generateAndSign.last, { roots: [ca.certificate] });
  if (!check.valid) throw new Error(`benchmark document did not verify: ${check.problem}`);
  return generateAndSign.last;
});

const phases = [generate, generateAndSign, verification].map(({ last: _last, ...rest }) => rest);
const result = {
  benchmark: 'pdf',
  at: new Date().toISOString(),
  node: process.version,
  threads: 1,
  documents: DOCUMENTS,
  warmup: WARMUP,
  clinicCertificateIssueMs: issueMsPerClinic,
  phases,
  signingOverheadMsP50: Math.round((generateAndSign.p50 - generate.p50) * 10) / 10,
  target: {
    generateAndSignPerSecond: TARGET_PER_SECOND,
    met: generateAndSign.perSecond >= TARGET_PER_SECOND,
  },
};
console.log(JSON.stringify(result, null, 2));
console.table(
  Object.fromEntries(
    phases.map((p) => [
      p.name,
      { 'docs/s': p.perSecond, 'p50 ms': p.p50, 'p95 ms': p.p95, 'p99 ms': p.p99, 'avg bytes': p.avgBytes },
    ]),
  ),
);
console.log(
  `generate+sign: ${generateAndSign.perSecond}/s on one thread (target >= ${TARGET_PER_SECOND}/s: ${result.target.met ? 'met' : 'NOT met'})`,
);
process.exit(result.target.met ? 0 : 1);
