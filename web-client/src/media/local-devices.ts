import type { Source } from './publications.ts';

/** Devices picked before the call (the pre-call check) or during it; undefined = the system default. */
export type DeviceChoice = {
  cameraId?: string | undefined;
  microphoneId?: string | undefined;
  speakerId?: string | undefined;
};
export type InputKind = 'audioinput' | 'videoinput';
/** An element that plays remote audio; setSinkId is missing where the browser cannot choose outputs. */
export type AudioOutput = { setSinkId?: (sinkId: string) => Promise<void> };
export type MediaDevicesLike = { getUserMedia(constraints: MediaStreamConstraints): Promise<MediaStream> };

export const DEFAULT_VIDEO: MediaTrackConstraints = { width: 1280, height: 720 };

const deviceConstraint = (
  deviceId: string | undefined,
  base: MediaTrackConstraints | boolean,
): MediaTrackConstraints | boolean =>
  deviceId ? { ...(typeof base === 'object' ? base : {}), deviceId: { exact: deviceId } } : base;

/**
 * The participant's own microphone and camera tracks and the speaker choice. Switching an input
 * opens the new device and hands its track to `useTrack` (which swaps it into the producer, no
 * renegotiation) before the old one stops, so the other side never sees a gap longer than a frame.
 */
export class LocalDevices {
  readonly #tracks = new Map<Source, MediaStreamTrack>();
  readonly #outputs = new Set<AudioOutput>();
  #choice: DeviceChoice = {};

  constructor(
    private readonly mediaDevices: () => MediaDevicesLike | undefined,
    private readonly useTrack: (source: 'mic' | 'webcam', track: MediaStreamTrack) => Promise<void>,
  ) {}

  get choice(): Readonly<DeviceChoice> {
    return { ...this.#choice };
  }

  track(source: 'mic' | 'webcam') {
    return this.#tracks.get(source);
  }

  /** Opens microphone and camera with the chosen devices (an unavailable choice fails: the caller asked for it). */
  async open(
    choice: DeviceChoice = {},
    video: MediaTrackConstraints = DEFAULT_VIDEO,
    audio = true,
  ): Promise<MediaStream> {
    this.#choice = { ...this.#choice, ...choice };
    const stream = await this.#devices().getUserMedia({
      audio: audio && deviceConstraint(choice.microphoneId, true),
      video: deviceConstraint(choice.cameraId, video),
    });
    const [mic] = stream.getAudioTracks();
    const [webcam] = stream.getVideoTracks();
    if (mic) this.#tracks.set('mic', mic);
    if (webcam) this.#tracks.set('webcam', webcam);
    return stream;
  }

  /** Another microphone or camera, same constraints; returns the new track (for the self view). */
  async switchInput(kind: InputKind, deviceId: string): Promise<MediaStreamTrack> {
    const source = kind === 'audioinput' ? 'mic' : 'webcam';
    const old = this.#tracks.get(source);
    const { deviceId: _previous, ...constraints } =
      old?.getConstraints() ?? (kind === 'videoinput' ? DEFAULT_VIDEO : {});
    const request = {
      [kind === 'audioinput' ? 'audio' : 'video']: { ...constraints, deviceId: { exact: deviceId } },
    };
    let stream: MediaStream;
    try {
      stream = await this.#devices().getUserMedia(request);
    } catch (err) {
      // Phones often cannot open two cameras at once: release the old one and try again.
      if (!old || (err as Error).name !== 'NotReadableError') throw err;
      old.stop();
      stream = await this.#devices().getUserMedia(request);
    }
    const track = stream.getTracks()[0]!;
    track.enabled = old?.enabled ?? true; // a muted microphone stays muted on the new device
    this.#tracks.set(source, track);
    try {
      await this.useTrack(source, track);
    } catch (err) {
      track.stop();
      if (old) this.#tracks.set(source, old);
      throw err;
    }
    old?.stop();
    this.#choice = { ...this.#choice, [kind === 'audioinput' ? 'microphoneId' : 'cameraId']: deviceId };
    return track;
  }

  /** Plays every remote audio element (present and future) on this output device. */
  async setSpeaker(deviceId: string) {
    this.#choice = { ...this.#choice, speakerId: deviceId };
    await Promise.all([...this.#outputs].map((el) => el.setSinkId?.(deviceId)));
  }

  /** Registers an element that plays remote audio; returns a function that unregisters it. */
  attachOutput(el: AudioOutput): () => void {
    this.#outputs.add(el);
    const { speakerId } = this.#choice;
    if (speakerId) el.setSinkId?.(speakerId).catch(() => undefined); // the device may have gone: default output
    return () => this.#outputs.delete(el);
  }

  /** Stops the microphone and camera (leaving, denied, call ended): the camera light goes off. */
  stop() {
    for (const track of this.#tracks.values()) track.stop();
    this.#tracks.clear();
  }

  #devices(): MediaDevicesLike {
    const devices = this.mediaDevices();
    if (!devices) throw new Error('this runtime has no media devices');
    return devices;
  }
}
