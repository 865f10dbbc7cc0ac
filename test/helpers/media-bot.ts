/**
 * A media client in a process of its own: joins with the given token, publishes synthetic audio
 * and video (the load tests' werift bot), prints "ready", and runs until killed. Killing it with
 * SIGKILL is a client vanishing from the network: no DTLS close, no signaling goodbye.
 * Usage: tsx test/helpers/media-bot.ts <ws url> <join token>
 */
import { AppControl } from '../../loadtests/sfu/app-control.ts';
import { Publisher } from '../../loadtests/sfu/bot.ts';

const [wsUrl, token] = process.argv.slice(2);
await Publisher.start(await AppControl.connect(wsUrl!, token!));
process.stdout.write('ready\n');
setInterval(() => {}, 1 << 30);
