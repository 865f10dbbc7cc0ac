type Summary = {
  consumersPerCore?: number | undefined;
  extrapolatedFromCpu: boolean;
  sustainedConsumers?: number | undefined;
  workerCpuAtSustained?: number | undefined;
  stoppedBecause: string;
};
type Result = {
  app: Summary;
  bare: Summary;
  appVsBarePct: number | undefined;
  appVsBareMatchedStepsPct: number | undefined;
  firstFrame: { p50Ms: number; p95Ms: number; joins: number } | { skipped: true };
  targets: Record<string, boolean>;
};

/** The short human table after the JSON. */
export function printTable(r: Result) {
  const row = (name: string, s: Summary) =>
    `| ${name} | ${s.sustainedConsumers ?? '-'} | ${s.workerCpuAtSustained ?? '-'} | ${s.consumersPerCore ?? '-'}${s.extrapolatedFromCpu ? ' (CPU-normalised)' : ''} | ${s.stoppedBecause} |`;
  const ff =
    'p50Ms' in r.firstFrame
      ? `${r.firstFrame.p50Ms} / ${r.firstFrame.p95Ms} ms (${r.firstFrame.joins} joins)`
      : 'skipped';
  const lines = [
    '',
    '| SFU | consumers at <1% loss | worker CPU (cores) | consumers/core | stopped because |',
    '| --- | --- | --- | --- | --- |',
    row('CareCall app', r.app),
    row('bare mediasoup', r.bare),
    '',
    `app / bare: ${r.appVsBarePct ?? '-'} % (consumers/core), ${r.appVsBareMatchedStepsPct ?? '-'} % (median worker CPU at equal consumer counts)`,
    `join -> first frame p50 / p95: ${ff}`,
    `targets: ${Object.entries(r.targets)
      .map(([k, v]) => `${k}=${v ? 'met' : 'MISSED'}`)
      .join('  ')}`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
}
