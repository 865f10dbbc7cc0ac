import type { CloseReason } from './close-reasons.ts';

/** Server -> client notifications of the cluster (no requests: clients never address a node). */
export type ClusterNotifications = {
  /**
   * A node on this participant's path is draining (the room's host, or the node its socket goes
   * through): no new rooms there; the call goes on until it ends or, at the latest, `deadlineMs`
   * from now, when the socket closes with `reason` and the client joins again (the room is then
   * placed on a live node). The client moves its socket at once: a resume through the service URL
   * while the old socket still works (a participant only passing through keeps its call as it is).
   */
  nodeDraining: { reason: Extract<CloseReason, 'room_moved'>; deadlineMs: number };
};
