// Browser stand-in for lib/image/decode.ts (the bundle aliases one to the other): the same decodeImage contract,
// with the page's own decoders (createImageBitmap + a canvas) instead of sharp and `fetch` instead of fs.
import { MobileNetError, describeValue, fail } from '../errors';
import { decodeBmp, isBmp } from '../image/bmp';
import { checkMaxPixels, DEFAULT_MAX_PIXELS, fromRawPixels, type DecodeOptions } from '../image/raw';
import type { RawPixels, RgbImage } from '../image/types';
import { fetchBytes } from './fetch';

export { DEFAULT_MAX_PIXELS, type DecodeOptions };

/** What a canvas can draw: HTMLImageElement, ImageBitmap, HTMLCanvasElement, OffscreenCanvas, HTMLVideoElement, VideoFrame. */
export type DrawableImage = CanvasImageSource;

/**
 * Everything the browser build accepts as an image: the Node inputs (a URL string instead of a path, encoded
 * bytes, raw pixels / ImageData) plus what a page holds (a Blob or File, an <img>, an ImageBitmap, a canvas).
 */
export type BrowserImageInput = string | URL | ArrayBuffer | Uint8Array | RawPixels | ImageData | Blob | DrawableImage;

const TODO = 'Pass a URL, an ArrayBuffer/Uint8Array of an encoded file, ImageData, raw pixels {data, width, height, channels?}, a Blob, an <img>, an ImageBitmap or a canvas.';

/**
 * Decodes an image into tightly packed 8-bit RGB, top row first, inside a web page or an Electron renderer.
 *
 * - A string or URL is fetched (relative to the page); bytes are BMP (our reader, identical to Node) or any
 *   format the browser decodes (JPEG, PNG, WebP, GIF, AVIF) through createImageBitmap with EXIF orientation.
 * - Raw pixels and ImageData drop alpha, as under Node and tf.browser.fromPixels; encoded files and drawable
 *   images are flattened on white, as under Node.
 * - Browser JPEG decoders may differ from libjpeg by a level or two per pixel: for bit-identical results with
 *   Node, pass BMP bytes or raw pixels.
 *
 * @example
 * const rgb = await decodeImage(document.querySelector('img')!);
 * console.log(rgb.width, rgb.height, rgb.data.length); // w, h, w*h*3
 */
export async function decodeImage(input: BrowserImageInput, opts: DecodeOptions = {}): Promise<RgbImage> {
  const maxPixels = checkMaxPixels(opts);
  if (typeof input === 'string' || input instanceof URL) return decodeBytes(await fetchImage(String(input)), maxPixels, String(input));
  if (input instanceof Uint8Array) return decodeBytes(input, maxPixels, 'the image bytes');
  if (input instanceof ArrayBuffer) return decodeBytes(new Uint8Array(input), maxPixels, 'the image bytes');
  if (typeof Blob !== 'undefined' && input instanceof Blob) return decodeBytes(new Uint8Array(await input.arrayBuffer()), maxPixels, 'the Blob');
  if (isDrawable(input)) return drawToRgb(input, maxPixels);
  if (typeof input === 'object' && input !== null && 'width' in input && 'height' in input && 'data' in input) {
    return fromRawPixels(input as RawPixels, maxPixels);
  }
  return fail('E_ARG', 'an image', describeValue(input), TODO);
}

async function fetchImage(url: string): Promise<Uint8Array> {
  if (url.length === 0) fail('E_ARG', 'an image URL', 'an empty string', TODO);
  return fetchBytes(url, 'the image', 'img-src/connect-src');
}

async function decodeBytes(bytes: Uint8Array, maxPixels: number, what: string): Promise<RgbImage> {
  if (bytes.length === 0) fail('E_IMAGE', 'an encoded image', `${what}: 0 bytes`, 'Check that the file was written completely.');
  if (isBmp(bytes)) return decodeBmp(bytes, maxPixels);
  if (typeof createImageBitmap !== 'function') {
    fail('E_IMAGE', 'a BMP (the only format decoded without createImageBitmap)', `${what} in another format, in an environment without createImageBitmap`, 'Decode it yourself and pass raw pixels {data, width, height, channels}.');
  }
  let bitmap: ImageBitmap;
  try {
    // Copy into a fresh ArrayBuffer: a Blob cannot take a view onto shared or resizable memory.
    bitmap = await createImageBitmap(new Blob([bytes.slice()]), { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  } catch (e) {
    throw new MobileNetError(
      'E_IMAGE',
      `Expected a complete JPEG, PNG, WebP, GIF, AVIF or BMP image in ${what}, received bytes this browser could not decode (${(e as Error).message}). Check the file is a complete image, or re-save it as PNG/JPEG.`,
    );
  }
  try {
    return drawToRgb(bitmap, maxPixels);
  } finally {
    bitmap.close();
  }
}

function isDrawable(v: unknown): v is DrawableImage {
  const g = globalThis as unknown as Record<string, (abstract new () => unknown) | undefined>;
  return ['HTMLImageElement', 'ImageBitmap', 'HTMLCanvasElement', 'OffscreenCanvas', 'HTMLVideoElement', 'SVGImageElement', 'VideoFrame'].some((name) => {
    const ctor = g[name];
    return typeof ctor === 'function' && v instanceof ctor;
  });
}

/** Natural size of a drawable, where an <img>/<video> reports 0 until it has loaded. */
function sizeOf(image: DrawableImage): { width: number; height: number } {
  const any = image as unknown as Record<string, number | undefined>;
  const width = any.naturalWidth ?? any.videoWidth ?? any.displayWidth ?? any.width ?? 0;
  const height = any.naturalHeight ?? any.videoHeight ?? any.displayHeight ?? any.height ?? 0;
  return { width: Number(width), height: Number(height) };
}

function drawToRgb(image: DrawableImage, maxPixels: number): RgbImage {
  const { width, height } = sizeOf(image);
  if (!(width >= 1 && height >= 1)) {
    fail('E_IMAGE', 'a loaded image with a positive size', `a ${image.constructor?.name ?? 'drawable'} of ${width}x${height}`, 'Wait for the image to load (await img.decode()) before classifying it.');
  }
  if (width * height > maxPixels) fail('E_IMAGE', `at most ${maxPixels} pixels`, `an image of ${width}x${height}`, 'Downscale the image, or raise maxPixels.');
  const ctx = canvas2d(width, height);
  // Flatten on white like the Node decoder (what a viewer shows for transparent pixels).
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  try {
    ctx.drawImage(image, 0, 0, width, height);
  } catch (e) {
    fail('E_IMAGE', 'an image the canvas can draw', `one that failed to draw (${(e as Error).message})`, 'Wait for the image to load and check it is not broken.');
  }
  let rgba: ImageData;
  try {
    rgba = ctx.getImageData(0, 0, width, height);
  } catch (e) {
    // A cross-origin image without CORS taints the canvas; reading it back is a SecurityError.
    throw new MobileNetError('E_IMAGE', `Expected readable pixels, but the canvas refused to read them back (${(e as Error).message}). Serve the image from the page's origin or with CORS headers and set img.crossOrigin = 'anonymous'.`);
  }
  return fromRawPixels({ data: rgba.data, width, height, channels: 4 }, maxPixels);
}

function canvas2d(width: number, height: number): OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D {
  let ctx: OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D | null = null;
  if (typeof OffscreenCanvas === 'function') ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
  else if (typeof document === 'object') {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    ctx = canvas.getContext('2d', { willReadFrequently: true });
  }
  if (!ctx) fail('E_IMAGE', 'a 2D canvas to read the pixels of an image element', 'an environment without OffscreenCanvas or document', 'Pass ImageData or raw pixels {data, width, height, channels} instead.');
  return ctx;
}
