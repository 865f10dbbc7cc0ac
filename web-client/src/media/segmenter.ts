import type { ImageSegmenter } from '@mediapipe/tasks-vision';

// The wasm runtime and the model are our own build assets (hashed, cached for a year), never a CDN:
// a patient's camera pipeline must not depend on, or announce itself to, a third party.
// The model ships in @twilio/video-processors with the segmenter metadata the tasks API reads
// (input normalisation, one "person" confidence channel); MediaPipe's own npm copy has none.
const MODEL_URL = new URL(
  '../../../node_modules/@twilio/video-processors/dist/build/selfie_segmentation_landscape.tflite',
  import.meta.url,
).href;
const WASM = {
  simd: {
    wasmLoaderPath: new URL(
      '../../../node_modules/@mediapipe/tasks-vision/wasm/vision_wasm_internal.js',
      import.meta.url,
    ).href,
    wasmBinaryPath: new URL(
      '../../../node_modules/@mediapipe/tasks-vision/wasm/vision_wasm_internal.wasm',
      import.meta.url,
    ).href,
  },
  plain: {
    wasmLoaderPath: new URL(
      '../../../node_modules/@mediapipe/tasks-vision/wasm/vision_wasm_nosimd_internal.js',
      import.meta.url,
    ).href,
    wasmBinaryPath: new URL(
      '../../../node_modules/@mediapipe/tasks-vision/wasm/vision_wasm_nosimd_internal.wasm',
      import.meta.url,
    ).href,
  },
};

/** The model's input size (landscape selfie model): frames are shrunk to it before segmenting. */
export const MODEL_WIDTH = 256;
export const MODEL_HEIGHT = 144;

/** Where the segmenter's files come from; tests point the model elsewhere to see a failed load. */
export type SegmenterAssets = { modelUrl?: string };

/**
 * Loads the person segmenter. The tasks library is imported here, on first use, so a page with the
 * effect off never downloads or compiles any of it. CPU delegate: works without a GPU (headless
 * Chromium, many patients' laptops) and the model is small enough (about 250 kB) for it.
 */
export async function loadSegmenter(assets: SegmenterAssets = {}): Promise<ImageSegmenter> {
  const { FilesetResolver, ImageSegmenter } = await import('@mediapipe/tasks-vision');
  const fileset = (await FilesetResolver.isSimdSupported()) ? WASM.simd : WASM.plain;
  return ImageSegmenter.createFromOptions(fileset, {
    baseOptions: { modelAssetPath: assets.modelUrl ?? MODEL_URL, delegate: 'CPU' },
    runningMode: 'VIDEO',
    outputConfidenceMasks: true,
    outputCategoryMask: false,
  });
}
