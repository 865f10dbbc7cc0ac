import {
  BackgroundEffect,
  BackgroundEffectError,
  isBackgroundImage,
  type BackgroundMode,
} from '../media/background-effect.ts';
import type { SegmenterAssets } from '../media/segmenter.ts';
import type { RoomClient } from '../room-client.ts';

/** `bg=blur` / `bg=replace:soft-wall` in the join link (the pre-call choice); anything else is off. */
export function parseBackground(value: string | null | undefined): BackgroundMode {
  if (value === 'blur') return { kind: 'blur' };
  const image = value?.startsWith('replace:') ? value.slice('replace:'.length) : '';
  if (isBackgroundImage(image)) return { kind: 'replace', image };
  return { kind: 'off' };
}
export const formatBackground = (mode: BackgroundMode) =>
  mode.kind === 'replace' ? `replace:${mode.image}` : mode.kind;

/**
 * The room page's background effect, kept apart from RoomClient (which knows only tracks): it
 * decides which track the webcam producer sends, the camera's own or the effect's output, and
 * swaps it with replaceTrack, so the producer (and every receiver's consumer) stays the same.
 */
export class BackgroundControl {
  #effect: BackgroundEffect | undefined;
  #mode: BackgroundMode = { kind: 'off' };

  constructor(private readonly assets: SegmenterAssets = {}) {}

  get mode() {
    return this.#mode;
  }
  get effect() {
    return this.#effect;
  }

  /** What to send for a camera track under the current mode (starting the effect if needed). */
  async outputFor(camera: MediaStreamTrack, mode: BackgroundMode = this.#mode): Promise<MediaStreamTrack> {
    if (mode.kind === 'off') {
      this.stop();
      this.#mode = mode;
      return camera;
    }
    if (this.#effect && !this.#effect.stopped) {
      await this.#effect.setMode(mode);
      this.#effect.setSource(camera);
    } else {
      this.#effect = await BackgroundEffect.create(camera, mode, this.assets);
    }
    this.#mode = mode;
    return this.#effect.track;
  }

  /** Turns the effect on, off or to another mode mid-call; on failure the camera is sent as it is. */
  async apply(client: RoomClient, mode: BackgroundMode): Promise<MediaStreamTrack | undefined> {
    const camera = client.devices.track('webcam');
    if (!camera) {
      this.#mode = mode;
      return undefined;
    }
    try {
      const track = await this.outputFor(camera, mode);
      await client.replaceTrack('webcam', track);
      return track;
    } catch (err) {
      this.stop();
      this.#mode = { kind: 'off' };
      await client.replaceTrack('webcam', camera);
      throw err instanceof BackgroundEffectError ? err : new BackgroundEffectError('model_unavailable', err);
    }
  }

  /**
   * Camera switch with the effect on. RoomClient.switchDevice puts the new camera's raw track on
   * the producer first; the producer is paused locally (no signaling: receivers see a few black
   * frames, not a camera-off state) until the effect's output is back on it, so the room behind the
   * patient is never sent, not even for a frame.
   */
  async switchCamera(client: RoomClient, deviceId: string): Promise<MediaStreamTrack | undefined> {
    if (this.#mode.kind === 'off' || !this.#effect) return client.switchDevice('videoinput', deviceId);
    const producer = client.published.get('webcam')?.producer;
    const hide = producer && !producer.paused;
    if (hide) producer.pause();
    try {
      const camera = await client.switchDevice('videoinput', deviceId);
      if (camera) this.#effect.setSource(camera);
      await client.replaceTrack('webcam', this.#effect.track);
      return this.#effect.track;
    } finally {
      if (hide && !producer.closed) producer.resume();
    }
  }

  stop() {
    this.#effect?.stop();
    this.#effect = undefined;
  }
}
