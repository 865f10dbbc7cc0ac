import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{server,signaling,sfu,db,web-client,test}/**/*.test.ts'],
    pool: 'forks',
    // Two cores: each file may start mediasoup workers or a browser; more parallelism only thrashes.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
