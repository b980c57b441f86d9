// Any ImageInput (path, encoded bytes, raw pixels) to 8-bit RGB: sharp for JPEG/PNG/WebP/GIF/AVIF/TIFF, our reader for BMP.
import { readRegularFile } from '../files';
import { resolveLimits } from '../limits';
import { MobileNetError, describeValue, fail } from '../errors';
import { decodeBmp, isBmp } from './bmp';
import { checkMaxPixels, DEFAULT_MAX_PIXELS, fromRawPixels, type DecodeOptions } from './raw';
import type { ImageInput, RgbImage } from './types';

export { DEFAULT_MAX_PIXELS, type DecodeOptions };

type Sharp = typeof import('sharp');
let sharpModule: Sharp | undefined;

/** sharp is loaded on first use so that importing the library never pays for (or fails on) libvips. */
function loadSharp(): Sharp {
  if (!sharpModule) {
    try {
      sharpModule = require('sharp') as Sharp;
    } catch (e) {
      fail('E_IMAGE', 'the sharp package to decode JPEG/PNG/WebP/GIF/AVIF/TIFF', `an error loading it: ${(e as Error).message}`, 'Reinstall with `npm install sharp`, or pass BMP files or raw pixels {data, width, height}.');
    }
  }
  return sharpModule!;
}

/**
 * Decodes an image into tightly packed 8-bit RGB, top row first.
 *
 * - A string is a file path; Buffer, Uint8Array and ArrayBuffer are encoded file bytes (JPEG incl. progressive,
 *   PNG, WebP, GIF (first frame), AVIF, TIFF via sharp; BMP via our own reader).
 * - `{data, width, height, channels?}` are raw pixels: 1 (grey), 3 (RGB) or 4 (RGBA) channels; without
 *   `channels` (e.g. a canvas ImageData) the count is inferred from data.length / (width*height).
 * - EXIF orientation 2-8 is applied; any other value (0, 1, missing, garbage) means "as stored".
 * - Greyscale becomes R=G=B. Alpha: encoded files are flattened on white (what a viewer shows); raw RGBA pixels
 *   drop alpha, as `tf.browser.fromPixels` does, so canvas ImageData gives the same tensor as TF.js.
 * - Colour values are the decoder's, with no ICC conversion, as TF/PIL/libjpeg pipelines see them.
 *
 * Errors: E_IO (file cannot be read), E_IMAGE (not an image, truncated or corrupt, too many pixels),
 * E_ARG (a bad argument or raw-pixel object).
 *
 * @example
 * const img = await decodeImage('photo.jpg');
 * console.log(img.width, img.height, img.data.length); // w, h, w*h*3
 * const fromCanvas = await decodeImage({ data: imageData.data, width: 640, height: 480 });
 */
export async function decodeImage(input: ImageInput, opts: DecodeOptions = {}): Promise<RgbImage> {
  const maxPixels = checkMaxPixels(opts);
  if (typeof input === 'string') return decodeBytes(await readImageFile(input), maxPixels, input);
  if (input instanceof Uint8Array) return decodeBytes(input, maxPixels, 'the image bytes');
  if (input instanceof ArrayBuffer) return decodeBytes(new Uint8Array(input), maxPixels, 'the image bytes');
  if (typeof input === 'object' && input !== null && 'width' in input && 'height' in input && 'data' in input) {
    return fromRawPixels(input, maxPixels);
  }
  return fail(
    'E_ARG',
    'an image: a file path, a Buffer/Uint8Array/ArrayBuffer of an encoded file, or raw pixels {data, width, height, channels?}',
    describeValue(input),
    'Pass e.g. "photo.jpg" or fs.readFileSync("photo.jpg").',
  );
}

async function readImageFile(path: string): Promise<Uint8Array> {
  if (path.length === 0) fail('E_ARG', 'a file path', 'an empty string', 'Pass the path of an image file.');
  return readRegularFile(path, 'the image file', 'imageBytes', resolveLimits());
}

async function decodeBytes(bytes: Uint8Array, maxPixels: number, what: string): Promise<RgbImage> {
  if (bytes.length === 0) fail('E_IMAGE', 'an encoded image', `${what}: 0 bytes`, 'Check that the file was written completely.');
  if (isBmp(bytes)) return decodeBmp(bytes, maxPixels);
  return decodeWithSharp(bytes, maxPixels, what);
}

/** sharp's own messages are precise; wrap them in the house format. */
function sharpError(e: unknown, what: string): MobileNetError {
  const msg = e instanceof Error ? e.message : String(e);
  const reason = /unsupported image format/i.test(msg) ? 'bytes that are not a known image format' : `a file sharp could not decode (${msg.trim()})`;
  return new MobileNetError(
    'E_IMAGE',
    `Expected a complete JPEG, PNG, WebP, GIF, AVIF, TIFF or BMP image in ${what}, received ${reason}. Check the file is a complete image, or re-save it as PNG/JPEG.`,
    { cause: msg },
  );
}

async function decodeWithSharp(bytes: Uint8Array, maxPixels: number, what: string): Promise<RgbImage> {
  const sharp = loadSharp();
  // 'truncated' fails on cut-off files (libjpeg would pad them with grey) yet accepts the harmless
  // warnings ("extraneous bytes before marker") that many real photos carry.
  let meta: Awaited<ReturnType<ReturnType<Sharp>['metadata']>>;
  try {
    // Reading the header needs no pixel memory; lifting the limit here lets our own check name the size.
    meta = await sharp(bytes, { failOn: 'truncated', limitInputPixels: false }).metadata();
  } catch (e) {
    throw sharpError(e, what);
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  // Checked from the header, before decoding; sharp's limitInputPixels repeats it inside libvips.
  if (width * height > maxPixels) {
    fail('E_IMAGE', `at most ${maxPixels} pixels`, `a ${width}x${height} ${meta.format ?? 'image'} (${width * height} pixels) in ${what}`, 'Downscale the image, or raise maxPixels if you trust its source.');
  }
  try {
    let pipeline = sharp(bytes, { failOn: 'truncated', limitInputPixels: maxPixels });
    // Orientation 0 and other out-of-range values exist in the wild (MANIFEST §3.1): treat them as "as stored".
    if (meta.orientation !== undefined && meta.orientation >= 2 && meta.orientation <= 8) pipeline = pipeline.rotate();
    if (meta.hasAlpha) pipeline = pipeline.flatten({ background: { r: 255, g: 255, b: 255 } });
    const { data, info } = await pipeline.toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
      fail('E_IMAGE', '8-bit RGB pixels from the decoder', `${info.channels} channels and ${data.length} bytes for ${info.width}x${info.height}`, 'Re-save the image as an 8-bit RGB PNG or JPEG.');
    }
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (e) {
    if (e instanceof MobileNetError) throw e;
    throw sharpError(e, what);
  }
}
