// Raw pixels (also canvas ImageData) to packed 8-bit RGB, and the pixel limit: shared by the Node and browser decoders.
import { describeValue, fail } from '../errors';
import type { RawPixels, RgbImage } from './types';

/** Options for decodeImage (Node and browser). */
export interface DecodeOptions {
  /**
   * Largest width*height accepted, checked from the header before any pixel is decoded (a guard against
   * decompression bombs). Default 100 million.
   */
  maxPixels?: number;
}

/** Default pixel limit: 100 MP, well above any camera photo, far below what exhausts memory. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/** Reads and checks the pixel limit of decode options. */
export function checkMaxPixels(opts: DecodeOptions): number {
  if (typeof opts !== 'object' || opts === null) fail('E_ARG', 'decode options {maxPixels?}', describeValue(opts), 'Pass an object or nothing.');
  const m = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (typeof m !== 'number' || !Number.isFinite(m) || m < 1) fail('E_ARG', 'maxPixels to be a finite number >= 1', describeValue(m), `Omit it for the default of ${DEFAULT_MAX_PIXELS}.`);
  return Math.floor(m);
}

/** Raw pixels (also canvas ImageData) to packed RGB, checking every field. */
export function fromRawPixels(raw: RawPixels, maxPixels: number): RgbImage {
  const { data, width, height } = raw;
  const todo = 'Pass {data: Uint8Array|Uint8ClampedArray, width, height, channels?: 1|3|4} with data.length = width*height*channels.';
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) fail('E_ARG', 'raw pixel data as a Uint8Array, Uint8ClampedArray or Buffer', describeValue(data), todo);
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 1) fail('E_ARG', `raw pixels with a positive integer ${name}`, describeValue(v), todo);
  }
  const pixels = width * height;
  if (pixels > maxPixels) fail('E_IMAGE', `at most ${maxPixels} pixels`, `raw pixels of ${width}x${height}`, 'Downscale the image, or raise maxPixels.');
  let channels: number | undefined = raw.channels;
  if (channels === undefined) {
    channels = data.length / pixels;
    if (![1, 3, 4].includes(channels)) {
      fail('E_ARG', `data.length to be width*height times 1, 3 or 4 (${pixels}, ${pixels * 3} or ${pixels * 4})`, `${data.length} values for ${width}x${height}`, todo);
    }
  } else if (channels !== 1 && channels !== 3 && channels !== 4) {
    fail('E_ARG', 'channels to be 1, 3 or 4', describeValue(channels), todo);
  } else if (data.length !== pixels * channels) {
    fail('E_ARG', `data.length = width*height*channels = ${pixels * channels}`, `${data.length} values for ${width}x${height}x${channels}`, todo);
  }
  const out = new Uint8Array(pixels * 3);
  if (channels === 3) out.set(data);
  else {
    for (let i = 0, s = 0, o = 0; i < pixels; i++, s += channels, o += 3) {
      out[o] = data[s];
      out[o + 1] = data[channels === 1 ? s : s + 1];
      out[o + 2] = data[channels === 1 ? s : s + 2];
    }
  }
  return { data: out, width, height };
}
