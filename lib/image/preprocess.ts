// Turns a decoded RGB image into a model's HWC float32 input: crop, resize, optional uint8 rounding, normalise.
import { describeValue, fail } from '../errors';
import { cropRegion, resizeRgb } from './resize';
import type { PreprocessOptions, RgbImage } from './types';

const RESIZE_MODES: PreprocessOptions['resize'][] = ['stretch', 'crop', 'square'];
const INTERPOLATIONS: PreprocessOptions['interpolation'][] = ['bilinear-tf1', 'bilinear', 'bilinear-aligned', 'nearest'];
/** Keeps a typo'd model size from allocating gigabytes. */
const MAX_SIDE = 8192;

const argError = (expected: string, received: unknown, todo: string): never => fail('E_ARG', expected, describeValue(received), todo);

/**
 * Checks every field of a PreprocessOptions; throws E_ARG naming the first bad one.
 *
 * @example
 * checkPreprocessOptions({ ...PRESETS.keras, cropFraction: 2 }); // throws MobileNetError E_ARG
 */
export function checkPreprocessOptions(opts: PreprocessOptions): void {
  if (typeof opts !== 'object' || opts === null) argError('preprocess options {resize, cropFraction, interpolation, roundToUint8, mean, std}', opts, 'Use presetFor(meta) or PRESETS.');
  if (!RESIZE_MODES.includes(opts.resize)) argError(`resize to be one of ${RESIZE_MODES.join(', ')}`, opts.resize, 'Fix preprocess.resize.');
  const f = opts.cropFraction;
  if (typeof f !== 'number' || !(f > 0 && f <= 1)) argError('cropFraction in (0, 1]', f, 'Use e.g. 0.875 (TF-slim) or 1.');
  if (!INTERPOLATIONS.includes(opts.interpolation)) argError(`interpolation to be one of ${INTERPOLATIONS.join(', ')}`, opts.interpolation, 'Fix preprocess.interpolation.');
  if (typeof opts.roundToUint8 !== 'boolean') argError('roundToUint8 to be a boolean', opts.roundToUint8, 'Fix preprocess.roundToUint8.');
  for (const key of ['mean', 'std'] as const) {
    const v = opts[key];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      argError(`${key} to be 3 finite numbers (one per RGB channel)`, v, `Fix preprocess.${key}, e.g. [127.5, 127.5, 127.5].`);
    }
  }
  if (opts.std.some((s) => s === 0)) argError('non-zero std values', opts.std, 'Use 1 for channels that are not scaled.');
}

function checkImage(img: RgbImage): void {
  const ok =
    typeof img === 'object' && img !== null && img.data instanceof Uint8Array &&
    Number.isInteger(img.width) && Number.isInteger(img.height) && img.width > 0 && img.height > 0 &&
    img.data.length === img.width * img.height * 3;
  if (!ok) argError('a decoded RGB image {data: Uint8Array(width*height*3), width, height}', img, 'Decode it with decodeImage() first.');
}

/**
 * Crops, resizes and normalises an RGB image into a height x width x 3 float32 tensor (HWC):
 * value = (p - mean[c]) / std[c], where p is the resized pixel, rounded to nearest (floor(v + 0.5)) and
 * clamped to 0..255 first when `roundToUint8` is set (what pipelines feeding uint8 models do).
 *
 * @example
 * const img = await decodeImage('cat.jpg');
 * const x = preprocessImage(img, 224, 224, PRESETS.keras); // Float32Array(224*224*3) in [-1, 1]
 */
export function preprocessImage(img: RgbImage, height: number, width: number, opts: PreprocessOptions): Float32Array {
  checkImage(img);
  for (const [name, v] of [['height', height], ['width', width]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > MAX_SIDE) argError(`an integer ${name} in 1..${MAX_SIDE}`, v, 'Pass the model input size, e.g. 224.');
  }
  checkPreprocessOptions(opts);
  const region = cropRegion(img.width, img.height, opts.resize, opts.cropFraction);
  const out = resizeRgb(img, region, height, width, opts.interpolation);
  const [m0, m1, m2] = opts.mean;
  // Multiplying by 1/std would differ from (p - mean) / std in the last bit; keep the division.
  const [s0, s1, s2] = opts.std;
  for (let i = 0; i < out.length; i += 3) {
    let r = out[i];
    let g = out[i + 1];
    let b = out[i + 2];
    if (opts.roundToUint8) {
      r = roundClamp(r);
      g = roundClamp(g);
      b = roundClamp(b);
    }
    out[i] = (r - m0) / s0;
    out[i + 1] = (g - m1) / s1;
    out[i + 2] = (b - m2) / s2;
  }
  return out;
}

/** floor(v + 0.5) with the addition in float32 (as the C++ reference does), clamped to 0..255. */
function roundClamp(v: number): number {
  const r = Math.floor(Math.fround(v + 0.5));
  return r < 0 ? 0 : r > 255 ? 255 : r;
}
