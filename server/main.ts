import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { CareCallNode } from './node.ts';
import { DEMO_ACCOUNTS } from './demo/demo-seed.ts';

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  for (const issue of err.issues)
    process.stderr.write(`configuration error: ${issue.variable}: ${issue.message}\n`);
  process.exit(1);
}

const logger = createLogger(config.logLevel);
const node = await CareCallNode.start(config, logger).catch((err: unknown) => {
  logger.fatal({ err }, 'start failed');
  process.exit(1);
});

const links = node.demoLinks();
if (links) {
  process.stdout.write(
    // The room links first: the bare address has no join token, so it cannot open a call.
    `\nDemo consultation (open each link in its own browser window; each starts with a camera check):\n` +
      `  doctor:  ${links.doctor}\n` +
      `  patient: ${links.patient}\n` +
      `CareCall is running at ${node.baseUrl} (API under /api)\n` +
      `Demo accounts (sign in with POST ${node.baseUrl}/api/auth/login, then read the code at\n` +
      `${node.baseUrl}/api/dev/outbox?recipient=<e-mail> and POST it to /api/auth/mfa):\n` +
      DEMO_ACCOUNTS.map((a) => `  ${a.role.padEnd(12)} ${a.email.padEnd(28)} ${a.password}\n`).join('') +
      `\n`,
  );
}

let signals = 0;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (++signals > 1) process.exit(1);
    logger.info({ signal }, 'shutting down');
    // SIGTERM is the orchestrator's "leave": calls move to other nodes first. SIGINT stops at once.
    void (signal === 'SIGTERM' ? node.drainAndStop() : node.stop()).then(() => process.exit(0));
  });
}
