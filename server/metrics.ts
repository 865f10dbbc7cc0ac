import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { SignalingMetrics } from '../signaling/room-lifecycle.ts';

/** One registry per node instance (no global default registry: tests start several nodes). */
export function createMetrics(workerCount: () => number) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'carecall_signaling_requests_total',
    help: 'Signaling requests by method and outcome',
    labelNames: ['method', 'outcome'] as const,
    registers: [registry],
  });
  const connections = new Gauge({ name: 'carecall_signaling_participants', help: 'Signaling participants (connected, or resumable after a drop)', registers: [registry] });
  const rooms = new Gauge({ name: 'carecall_rooms', help: 'Rooms hosted on this node', registers: [registry] });
  const peers = new Gauge({ name: 'carecall_peers', help: 'Peers in rooms on this node', registers: [registry] });
  new Gauge({
    name: 'carecall_sfu_workers_alive',
    help: 'Live mediasoup workers',
    registers: [registry],
    collect() {
      this.set(workerCount());
    },
  });
  const signaling: SignalingMetrics = {
    requestDone: (method, outcome) => requests.inc({ method, outcome }),
    connectionOpened: () => connections.inc(),
    connectionClosed: () => connections.dec(),
    roomsChanged: (r, p) => {
      rooms.set(r);
      peers.set(p);
    },
  };
  return { registry, signaling };
}
