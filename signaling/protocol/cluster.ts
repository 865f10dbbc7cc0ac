import type { CloseReason } from './close-reasons.ts';

/** Server -> client notifications of the cluster (no requests: clients never address a node). */
export type ClusterNotifications = {
  /**
   * This node is draining: no new rooms here; the call goes on until it ends or, at the latest,
   * `deadlineMs` from now, when the socket closes with `reason` and the client joins again (the
   * room is then placed on a live node). A client may also leave and rejoin earlier, between turns.
   */
  nodeDraining: { reason: Extract<CloseReason, 'room_moved'>; deadlineMs: number };
};
