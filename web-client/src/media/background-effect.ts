import type { ImageSegmenter } from '@mediapipe/tasks-vision';
import { loadSegmenter, MODEL_HEIGHT, MODEL_WIDTH, type SegmenterAssets } from './segmenter.ts';

/** Built-in replacement images: small, neutral, no identifiable place. */
export const BACKGROUND_IMAGES = {
  'soft-wall': new URL('./backgrounds/soft-wall.svg', import.meta.url).href,
  'calm-blue': new URL('./backgrounds/calm-blue.svg', import.meta.url).href,
} as const;
export type BackgroundImageId = keyof typeof BACKGROUND_IMAGES;

export type BackgroundMode =
  | { kind: 'off' }
  /** strength: blur radius in pixels of the full frame (default 12). */
  | { kind: 'blur'; strength?: number }
  | { kind: 'replace'; image: BackgroundImageId };

export const isBackgroundImage = (id: string): id is BackgroundImageId => id in BACKGROUND_IMAGES;

/** Why an effect could not start: the UI names it and keeps the raw camera. */
export class BackgroundEffectError extends Error {
  override name = 'BackgroundEffectError';
  constructor(
    readonly code: 'unsupported' | 'model_unavailable' | 'image_unavailable',
    cause?: unknown,
  ) {
    super(`background effect ${code}${cause instanceof Error ? `: ${cause.message}` : ''}`, { cause });
  }
}

// Chromium's insertable streams for raw video (not yet in TypeScript's DOM library).
type FrameReader = ReadableStreamDefaultReader<VideoFrame>;
declare const MediaStreamTrackProcessor: {
  new (init: { track: MediaStreamTrack; maxBufferSize?: number }): { readable: ReadableStream<VideoFrame> };
};
declare const MediaStreamTrackGenerator: {
  new (init: { kind: 'video' }): MediaStreamTrack & { writable: WritableStream<VideoFrame> };
};

export const backgroundEffectsSupported = () =>
  typeof globalThis.MediaStreamTrackProcessor === 'function' &&
  typeof globalThis.MediaStreamTrackGenerator === 'function' &&
  typeof OffscreenCanvas === 'function';

/** Counters for tests and the benchmark: how many camera frames came in, went out, were skipped. */
export type EffectStats = { framesIn: number; framesOut: number; segmentMs: number };

const canvas2d = (w: number, h: number) => {
  const canvas = new OffscreenCanvas(w, h);
  return { canvas, ctx: canvas.getContext('2d', { willReadFrequently: false })! };
};

/**
 * Camera track in, processed track out: the person stays sharp, the rest is blurred or replaced.
 * The output track stays the same object for the effect's life (camera switches only swap the
 * input), so the producer never changes. Frames are read one at a time with a one-frame buffer:
 * when segmenting falls behind, older camera frames are dropped, never queued, so the output runs
 * at the camera's rate or below it, but its latency never grows.
 */
export class BackgroundEffect {
  readonly track: MediaStreamTrack;
  readonly stats: EffectStats = { framesIn: 0, framesOut: 0, segmentMs: 0 };
  #source: MediaStreamTrack;
  #mode: Exclude<BackgroundMode, { kind: 'off' }>;
  #image: ImageBitmap | undefined;
  #reader: FrameReader | undefined;
  readonly #writer: WritableStreamDefaultWriter<VideoFrame>;
  readonly #small = canvas2d(MODEL_WIDTH, MODEL_HEIGHT);
  readonly #mask = canvas2d(MODEL_WIDTH, MODEL_HEIGHT);
  readonly #maskPixels = new ImageData(MODEL_WIDTH, MODEL_HEIGHT);
  #person = canvas2d(1, 1);
  #out = canvas2d(1, 1);
  #stopped = false;

  private constructor(
    source: MediaStreamTrack,
    mode: Exclude<BackgroundMode, { kind: 'off' }>,
    private readonly segmenter: ImageSegmenter,
  ) {
    this.#source = source;
    this.#mode = mode;
    const generator = new MediaStreamTrackGenerator({ kind: 'video' });
    this.#writer = generator.writable.getWriter();
    this.track = generator;
  }

  /** Loads the segmenter (and the image) and starts processing `source`; throws BackgroundEffectError. */
  static async create(
    source: MediaStreamTrack,
    mode: Exclude<BackgroundMode, { kind: 'off' }>,
    assets: SegmenterAssets = {},
  ): Promise<BackgroundEffect> {
    if (!backgroundEffectsSupported()) throw new BackgroundEffectError('unsupported');
    let segmenter: ImageSegmenter;
    try {
      segmenter = await loadSegmenter(assets);
    } catch (err) {
      throw new BackgroundEffectError('model_unavailable', err);
    }
    const effect = new BackgroundEffect(source, mode, segmenter);
    try {
      await effect.setMode(mode);
    } catch (err) {
      effect.stop();
      throw err;
    }
    effect.#start();
    return effect;
  }

  get mode(): Exclude<BackgroundMode, { kind: 'off' }> {
    return this.#mode;
  }
  get source() {
    return this.#source;
  }
  get stopped() {
    return this.#stopped;
  }

  async setMode(mode: Exclude<BackgroundMode, { kind: 'off' }>) {
    if (mode.kind === 'replace') {
      const image = await loadImage(BACKGROUND_IMAGES[mode.image]);
      this.#image?.close();
      this.#image = image;
    }
    this.#mode = mode;
  }

  /** Another camera (device switch): the output track, and so the producer, stay the same. */
  setSource(track: MediaStreamTrack) {
    if (this.#stopped || track === this.#source) return;
    this.#source = track;
    this.#start();
  }

  /** Frees the segmenter, canvases and the output track; the camera track is the caller's. */
  stop() {
    if (this.#stopped) return;
    this.#stopped = true;
    void this.#reader?.cancel().catch(() => undefined);
    this.#reader = undefined;
    void this.#writer.close().catch(() => undefined);
    this.track.stop();
    this.#image?.close();
    this.segmenter.close();
  }

  #start() {
    void this.#reader?.cancel().catch(() => undefined);
    const reader = new MediaStreamTrackProcessor({
      track: this.#source,
      maxBufferSize: 1,
    }).readable.getReader();
    this.#reader = reader;
    void this.#pump(reader);
  }

  async #pump(reader: FrameReader) {
    for (;;) {
      const { value: frame, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done || !frame) return;
      if (this.#reader !== reader || this.#stopped) return frame.close();
      this.stats.framesIn++;
      let out: VideoFrame | undefined;
      try {
        out = this.#render(frame);
      } finally {
        frame.close();
      }
      // The sender takes frames at once; a writer still busy with the last one means drop this one.
      if (this.#writer.desiredSize !== null && this.#writer.desiredSize <= 0) {
        out.close();
        continue;
      }
      await this.#writer.write(out).then(
        () => this.stats.framesOut++,
        () => out.close(),
      );
    }
  }

  #render(frame: VideoFrame): VideoFrame {
    const w = frame.displayWidth;
    const h = frame.displayHeight;
    if (this.#out.canvas.width !== w || this.#out.canvas.height !== h) {
      this.#out = canvas2d(w, h);
      this.#person = canvas2d(w, h);
    }
    this.#small.ctx.drawImage(frame, 0, 0, MODEL_WIDTH, MODEL_HEIGHT);
    const started = performance.now();
    const result = this.segmenter.segmentForVideo(this.#small.canvas, frame.timestamp / 1000);
    this.stats.segmentMs += performance.now() - started;
    const mask = result.confidenceMasks?.[0];
    if (mask) {
      // One channel: how sure the model is that a pixel is the person; it becomes the alpha.
      const confidence = mask.getAsFloat32Array();
      const px = this.#maskPixels.data;
      for (let i = 0; i < confidence.length; i++) px[i * 4 + 3] = confidence[i]! * 255;
      this.#mask.ctx.putImageData(this.#maskPixels, 0, 0);
    }
    result.close();

    // The person: the mask scaled up (bilinear, which also softens the edge), then the frame inside it.
    const person = this.#person.ctx;
    person.globalCompositeOperation = 'copy';
    person.drawImage(this.#mask.canvas, 0, 0, w, h);
    person.globalCompositeOperation = 'source-in';
    person.drawImage(frame, 0, 0, w, h);

    const out = this.#out.ctx;
    out.globalCompositeOperation = 'copy';
    if (this.#mode.kind === 'replace' && this.#image) {
      drawCover(out, this.#image, w, h);
    } else {
      // Blur at model size, scaled up: a fraction of the work of blurring the full frame.
      const strength = this.#mode.kind === 'blur' ? (this.#mode.strength ?? 12) : 12;
      const small = this.#small.ctx;
      small.filter = `blur(${Math.max(1, (strength * MODEL_WIDTH) / w)}px)`;
      small.drawImage(frame, 0, 0, MODEL_WIDTH, MODEL_HEIGHT);
      small.filter = 'none';
      out.drawImage(this.#small.canvas, 0, 0, w, h);
    }
    out.globalCompositeOperation = 'source-over';
    out.drawImage(this.#person.canvas, 0, 0);
    return new VideoFrame(this.#out.canvas, { timestamp: frame.timestamp });
  }
}

/** Fills the frame with the image, cropped to the frame's aspect ratio (never stretched). */
function drawCover(ctx: OffscreenCanvasRenderingContext2D, image: ImageBitmap, w: number, h: number) {
  const scale = Math.max(w / image.width, h / image.height);
  const sw = w / scale;
  const sh = h / scale;
  ctx.drawImage(image, (image.width - sw) / 2, (image.height - sh) / 2, sw, sh, 0, 0, w, h);
}

async function loadImage(url: string): Promise<ImageBitmap> {
  // An <img> decodes SVG, which createImageBitmap(blob) does not.
  const img = new Image();
  img.src = url;
  try {
    await img.decode();
    return await createImageBitmap(img);
  } catch (err) {
    throw new BackgroundEffectError('image_unavailable', err);
  }
}
