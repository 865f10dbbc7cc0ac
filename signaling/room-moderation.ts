import type { Peer } from '../sfu/index.ts';
import {
  WAITING_MESSAGE_BURST,
  WAITING_MESSAGE_REFILL_MS,
  type MediaState,
  type ParticipantInfo,
  type WaitingStatus,
} from './protocol/index.ts';
import { SignalingError } from './signaling-error.ts';

type Source = 'mic' | 'webcam' | 'screen';
type Member = { peerId: string; role: string; displayName: string | undefined; canAdmit: boolean };

/**
 * What hosts decided in one room: who was removed (cannot join again while the room lives), which
 * sources a host muted (audio the owner may unmute, as in Jitsi; a stopped camera or screen share
 * stays off until a host releases it, since a share can show another patient's records), the
 * latest note to each waiting participant, and each host's message allowance.
 */
export class RoomModeration {
  readonly #removed = new Set<string>();
  /** peerId -> source -> whether only a host may undo it. */
  readonly #hostMuted = new Map<string, Map<Source, { locked: boolean }>>();
  readonly #messages = new Map<string, { text: string; at: string }>();
  readonly #allowance = new Map<string, { tokens: number; at: number }>();

  isRemoved(peerId: string) {
    return this.#removed.has(peerId);
  }

  markRemoved(peerId: string) {
    this.#removed.add(peerId);
    this.forget(peerId);
  }

  hostMute(peerId: string, source: Source) {
    const locked = source !== 'mic';
    let sources = this.#hostMuted.get(peerId);
    if (!sources) this.#hostMuted.set(peerId, (sources = new Map()));
    sources.set(source, { locked });
    return { selfUnmute: !locked };
  }

  /** A host lets the owner send this source again; false if it was not held. */
  release(peerId: string, source: Source): boolean {
    return this.#hostMuted.get(peerId)?.delete(source) ?? false;
  }

  /** The owner resumed a producer (allowed for audio): the host mute is over. */
  resumed(peerId: string, source: Source) {
    this.#hostMuted.get(peerId)?.delete(source);
  }

  /** Refuses sending (produce or resume) a source a host stopped. */
  assertMaySend(peerId: string, source: string | undefined) {
    if (source && this.#hostMuted.get(peerId)?.get(source as Source)?.locked) {
      throw new SignalingError('muted_by_host', `a host stopped your ${source}; ask them to allow it again`);
    }
  }

  mediaState(peerId: string, peer: Peer | undefined, source: Source): MediaState {
    const producers = peer?.producersBySource(source) ?? [];
    const held = this.#hostMuted.get(peerId)?.get(source);
    if (held?.locked) return 'muted_by_host';
    if (producers.length === 0) return 'none';
    return producers.every((p) => p.paused) ? 'muted' : 'live';
  }

  participant(member: Member, peer: Peer | undefined): ParticipantInfo {
    return {
      peerId: member.peerId,
      role: member.role,
      displayName: member.displayName,
      host: member.canAdmit,
      mic: this.mediaState(member.peerId, peer, 'mic'),
      webcam: this.mediaState(member.peerId, peer, 'webcam'),
      screen: this.mediaState(member.peerId, peer, 'screen'),
    };
  }

  setMessage(peerId: string, text: string) {
    this.#messages.set(peerId, { text, at: new Date().toISOString() });
  }

  /** One message from this host's allowance (a burst, then one per refill interval), or rate_limited. */
  spendMessage(hostId: string, now = Date.now()) {
    const last = this.#allowance.get(hostId) ?? { tokens: WAITING_MESSAGE_BURST, at: now };
    const tokens = Math.min(WAITING_MESSAGE_BURST, last.tokens + (now - last.at) / WAITING_MESSAGE_REFILL_MS);
    if (tokens < 1) {
      const waitS = Math.ceil(((1 - tokens) * WAITING_MESSAGE_REFILL_MS) / 1000);
      throw new SignalingError('rate_limited', `too many waiting-room messages; try again in ${waitS} s`);
    }
    this.#allowance.set(hostId, { tokens: tokens - 1, at: now });
  }

  waitingStatus(
    position: number,
    waitingCount: number,
    since: Date,
    hostNotified: boolean,
    peerId: string,
  ): WaitingStatus {
    return {
      position,
      waitingCount,
      since: since.toISOString(),
      waitedMs: Math.max(0, Date.now() - since.getTime()),
      hostNotified,
      message: this.#messages.get(peerId),
    };
  }

  /** The participant left: its notes mean nothing any more; a removal or a stopped source stays (no escape by rejoining). */
  forget(peerId: string) {
    this.#messages.delete(peerId);
    this.#allowance.delete(peerId);
  }
}
