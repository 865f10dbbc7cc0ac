import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { SignalingMetrics } from '../../signaling/room-lifecycle.ts';
import type { TransportEventKind } from '../../sfu/index.ts';

/** What the media metrics read from the worker pool at scrape time. */
export type SfuMetricsSource = {
  udpReceiveDrops(): { worker: number; port: number; drops: number }[];
  readonly transports: { readonly stalledCount: number };
};

/** One registry per node instance (no global default registry: tests start several nodes). */
export function createMetrics(workerCount: () => number, sfu?: SfuMetricsSource, nodeId?: string) {
  const registry = new Registry();
  // Every series says which node it came from: one scrape config over N nodes stays apart.
  if (nodeId) registry.setDefaultLabels({ node: nodeId });
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'carecall_signaling_requests_total',
    help: 'Signaling requests by method and outcome',
    labelNames: ['method', 'outcome'] as const,
    registers: [registry],
  });
  const connections = new Gauge({
    name: 'carecall_signaling_participants',
    help: 'Signaling participants (connected, or resumable after a drop)',
    registers: [registry],
  });
  const rooms = new Gauge({
    name: 'carecall_rooms',
    help: 'Rooms hosted on this node',
    registers: [registry],
  });
  const peers = new Gauge({
    name: 'carecall_peers',
    help: 'Peers in rooms on this node',
    registers: [registry],
  });
  new Gauge({
    name: 'carecall_sfu_workers_alive',
    help: 'Live mediasoup workers',
    registers: [registry],
    collect() {
      this.set(workerCount());
    },
  });
  const coalesced = new Counter({
    name: 'carecall_signaling_notifications_coalesced_total',
    help: 'State notifications (network quality, active speaker, waiting room, layers) replaced by a newer one before a slow socket could take them',
    labelNames: ['method'] as const,
    registers: [registry],
  });
  const slowClients = new Counter({
    name: 'carecall_signaling_slow_client_closes_total',
    help: 'Signaling connections closed because the client stopped reading (send backlog over the limit)',
    registers: [registry],
  });
  const transportEvents = new Counter({
    name: 'carecall_sfu_transport_events_total',
    help: 'WebRTC transport connection events: ice_disconnected, dtls_failed, dtls_closed, receive_stalled (nothing received for the stall period), receive_recovered',
    labelNames: ['event'] as const,
    registers: [registry],
  });
  if (sfu) {
    new Gauge({
      name: 'carecall_sfu_transports_stalled',
      help: 'Connected WebRTC transports that currently receive nothing (no consent checks, RTCP or media)',
      registers: [registry],
      collect() {
        this.set(sfu.transports.stalledCount);
      },
    });
    new Gauge({
      name: 'carecall_sfu_udp_receive_drops',
      help: 'Datagrams the kernel dropped on a media UDP port because its receive buffer was full (cumulative since the socket opened; Linux)',
      labelNames: ['worker', 'port'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const d of sfu.udpReceiveDrops())
          this.set({ worker: String(d.worker), port: String(d.port) }, d.drops);
      },
    });
  }
  const signaling: SignalingMetrics = {
    notificationCoalesced: (method) => coalesced.inc({ method }),
    slowClientClosed: () => slowClients.inc(),
    requestDone: (method, outcome) => requests.inc({ method, outcome }),
    connectionOpened: () => connections.inc(),
    connectionClosed: () => connections.dec(),
    roomsChanged: (r, p) => {
      rooms.set(r);
      peers.set(p);
    },
  };
  const transportEvent = (kind: TransportEventKind) => transportEvents.inc({ event: kind });
  return { registry, signaling, transportEvent };
}
