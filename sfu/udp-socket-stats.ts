import { readFileSync } from 'node:fs';

/** What the kernel says about one bound UDP socket. */
export type UdpSocketStats = { rxQueueBytes: number; drops: number };

/**
 * Kernel counters of UDP sockets by local port, from /proc/net/udp and udp6 (Linux; empty
 * elsewhere). `drops` counts datagrams the kernel discarded because the socket's receive buffer was
 * full: the evidence that a media port overflowed, which mediasoup itself never reports.
 */
export function udpSocketStats(): Map<number, UdpSocketStats> {
  const byPort = new Map<number, UdpSocketStats>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 13) continue;
      const port = parseInt(cols[1]!.split(':')[1]!, 16);
      const rxQueueBytes = parseInt(cols[4]!.split(':')[1]!, 16);
      const drops = Number(cols[12]);
      const prev = byPort.get(port);
      byPort.set(port, {
        rxQueueBytes: (prev?.rxQueueBytes ?? 0) + rxQueueBytes,
        drops: (prev?.drops ?? 0) + drops,
      });
    }
  }
  return byPort;
}

/** Default socket buffer sizes every new socket gets (mediasoup 3.12 cannot set its own). */
export function defaultUdpBufferBytes(): { receive: number | undefined; send: number | undefined } {
  const read = (name: string) => {
    try {
      return Number(readFileSync(`/proc/sys/net/core/${name}`, 'utf8').trim());
    } catch {
      return undefined;
    }
  };
  return { receive: read('rmem_default'), send: read('wmem_default') };
}
