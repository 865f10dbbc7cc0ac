/** What signaling tells the rest of the system about rooms; implemented by the server (DB + bus). */
export interface RoomLifecycle {
  /** Claims the room for this node; false if another live node owns it. Called again to keep it. */
  claim(roomId: string): Promise<boolean>;
  /** Whether another live node holds the room now (a read: nothing is claimed). */
  hostedElsewhere(roomId: string): Promise<boolean>;
  started(roomId: string, workerIndex: number): Promise<void>;
  participantJoined(roomId: string, peerId: string, role: string): void;
  participantLeft(roomId: string, peerId: string): void;
  ended(roomId: string, reason: string): Promise<void>;
  /**
   * Since when this participant waits for this room: the first knock's time, kept where every node
   * finds it, so a patient who knocks again after the host node died keeps their place in time.
   */
  waitingSince(roomId: string, peerId: string): Promise<Date>;
  /** The wait is over (admitted or denied): a later knock waits anew. */
  waitingEnded(roomId: string, peerId: string): void;
}

export interface SignalingMetrics {
  requestDone(method: string, outcome: 'ok' | 'error'): void;
  connectionOpened(): void;
  connectionClosed(): void;
  roomsChanged(rooms: number, peers: number): void;
  /** An unsent state notification was replaced by a newer one for a slow or absent socket. */
  notificationCoalesced(method: string): void;
  /** A connection was closed because its client stopped reading (send backlog limit). */
  slowClientClosed(): void;
}
