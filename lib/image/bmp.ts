// Our own Windows BMP reader (sharp/libvips cannot read BMP): uncompressed 1/4/8-bit palettised, 16/24/32-bit, with every size and offset checked.
import { fail } from '../errors';
import type { RgbImage } from './types';

/**
 * True when the bytes start with the BMP signature "BM".
 *
 * @example
 * isBmp(fs.readFileSync('cat.bmp')); // true
 */
export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

const FILE_HEADER_BYTES = 14;
const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const BI_JPEG = 4;
const BI_PNG = 5;
const BI_ALPHABITFIELDS = 6;

/** Header sizes we understand: OS/2 core, INFO, the two Adobe INFO extensions, V4, V5. */
const KNOWN_HEADER_SIZES = [12, 40, 52, 56, 108, 124];

interface ChannelMask {
  mask: number;
  shift: number;
  max: number;
  bits: number;
}

const bad = (expected: string, received: string): never =>
  fail('E_IMAGE', `a valid BMP file (${expected})`, received, 'Re-save the image as PNG or JPEG, or as an uncompressed 24-bit BMP.');

function channelMask(mask: number, name: string): ChannelMask {
  if (mask === 0) return { mask: 0, shift: 0, max: 0, bits: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift;
  // A mask must be one run of ones, or the channel value is not an integer field.
  if ((max & (max + 1)) !== 0) bad(`a contiguous ${name} bit mask`, `mask 0x${mask.toString(16)}`);
  return { mask, shift, max, bits: Math.log2(max + 1) };
}

/**
 * Expands an n-bit channel to 8 bits by bit replication (5-bit abcde -> abcdeabc), as browsers and stb_image do;
 * channels wider than 8 bits keep their top 8.
 */
function expand(px: number, c: ChannelMask): number {
  if (c.max === 0) return 0;
  const v = (px & c.mask) >>> c.shift;
  const bits = c.bits;
  if (bits >= 8) return v >>> (bits - 8);
  let r = v << (8 - bits);
  for (let k = bits; k < 8; k += bits) r |= r >> bits;
  return r & 0xff;
}

/**
 * Decodes an uncompressed BMP into tightly packed 8-bit RGB, top row first.
 *
 * Supported: BITMAPCOREHEADER (12), BITMAPINFOHEADER (40), the 52/56-byte variants, V4 (108) and V5 (124);
 * 1/4/8-bit palettised, 16-bit (5-5-5 or bit fields), 24-bit BGR, 32-bit BGRX or bit fields; bottom-up and
 * top-down rows padded to 4 bytes. Alpha is ignored (most writers leave the 4th byte at 0, which would
 * otherwise make every pixel transparent). RLE and embedded JPEG/PNG are refused with E_IMAGE.
 *
 * @example
 * const img = decodeBmp(fs.readFileSync('grace_hopper.bmp'));
 * console.log(img.width, img.height); // 517 606
 */
export function decodeBmp(bytes: Uint8Array, maxPixels = 100_000_000): RgbImage {
  const size = bytes.length;
  if (!isBmp(bytes)) bad('the signature "BM"', `${size} bytes not starting with "BM"`);
  if (size < FILE_HEADER_BYTES + 4) bad('at least an 18-byte header', `${size} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pixelOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  if (!KNOWN_HEADER_SIZES.includes(headerSize)) bad(`a DIB header of ${KNOWN_HEADER_SIZES.join('/')} bytes`, `a header size of ${headerSize}`);
  if (FILE_HEADER_BYTES + headerSize > size) bad(`a ${headerSize}-byte DIB header`, `a file of ${size} bytes`);

  const core = headerSize === 12;
  const width = core ? view.getUint16(18, true) : view.getInt32(18, true);
  const rawHeight = core ? view.getUint16(20, true) : view.getInt32(22, true);
  const planes = core ? view.getUint16(22, true) : view.getUint16(26, true);
  const bpp = core ? view.getUint16(24, true) : view.getUint16(28, true);
  const compression = core ? BI_RGB : view.getUint32(30, true);
  const colorsUsed = core ? 0 : view.getUint32(46, true);

  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height <= 0) bad('a positive width and height', `${width}x${rawHeight}`);
  if (planes !== 1) bad('1 colour plane', `${planes}`);
  if (width * height > maxPixels) {
    fail('E_IMAGE', `at most ${maxPixels} pixels`, `a ${width}x${height} BMP (${width * height} pixels)`, 'Downscale the image, or raise maxPixels if you trust its source.');
  }
  if (compression === BI_RLE8 || compression === BI_RLE4 || compression === BI_JPEG || compression === BI_PNG) {
    const name = { [BI_RLE8]: 'RLE8', [BI_RLE4]: 'RLE4', [BI_JPEG]: 'embedded JPEG', [BI_PNG]: 'embedded PNG' }[compression];
    bad('uncompressed pixels', `${name} compression`);
  }
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) {
    bad('compression 0 (none) or 3/6 (bit fields)', `compression ${compression}`);
  }
  const usesMasks = compression !== BI_RGB;
  if (usesMasks && bpp !== 16 && bpp !== 32) bad('bit fields only with 16 or 32 bits per pixel', `${bpp} bits per pixel`);
  if (![1, 4, 8, 16, 24, 32].includes(bpp) || (core && bpp > 24)) bad('1, 4, 8, 16, 24 or 32 bits per pixel', `${bpp}`);

  // Masks live inside V2+ headers, or just after a 40-byte header.
  let afterHeader = FILE_HEADER_BYTES + headerSize;
  let masks: [ChannelMask, ChannelMask, ChannelMask] | undefined;
  if (usesMasks) {
    // Either way the red, green and blue masks start right after the 40 INFO bytes.
    const maskAt = FILE_HEADER_BYTES + 40;
    if (headerSize === 40) {
      const extra = compression === BI_ALPHABITFIELDS ? 16 : 12;
      if (afterHeader + extra > size) bad('colour masks after the header', `a file of ${size} bytes`);
      afterHeader += extra;
    }
    masks = [
      channelMask(view.getUint32(maskAt, true), 'red'),
      channelMask(view.getUint32(maskAt + 4, true), 'green'),
      channelMask(view.getUint32(maskAt + 8, true), 'blue'),
    ];
  } else if (bpp === 16) {
    masks = [channelMask(0x7c00, 'red'), channelMask(0x03e0, 'green'), channelMask(0x001f, 'blue')];
  }

  let palette: Uint8Array | undefined;
  if (bpp <= 8) {
    const entryBytes = core ? 3 : 4;
    const maxEntries = 1 << bpp;
    // Some writers overstate the count; more entries than indices can address are never used.
    const entries = colorsUsed === 0 ? maxEntries : Math.min(colorsUsed, maxEntries);
    if (afterHeader + entries * entryBytes > size) bad(`a palette of ${entries} colours`, `a file of ${size} bytes`);
    palette = new Uint8Array(maxEntries * 3); // unlisted entries read as black
    for (let i = 0; i < entries; i++) {
      const at = afterHeader + i * entryBytes;
      palette[i * 3] = bytes[at + 2];
      palette[i * 3 + 1] = bytes[at + 1];
      palette[i * 3 + 2] = bytes[at];
    }
  }

  const stride = Math.floor((width * bpp + 31) / 32) * 4;
  const rowBytes = Math.ceil((width * bpp) / 8);
  // The last row's padding is often missing in the wild, so only the bytes actually read must exist.
  const needed = pixelOffset + stride * (height - 1) + rowBytes;
  if (pixelOffset < FILE_HEADER_BYTES + headerSize || pixelOffset >= size) bad('a pixel offset inside the file, after the headers', `offset ${pixelOffset} in a ${size}-byte file`);
  if (needed > size) bad(`${needed} bytes for ${width}x${height} pixels at ${bpp} bits`, `a truncated file of ${size} bytes`);

  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const srcRow = pixelOffset + stride * (topDown ? y : height - 1 - y);
    let o = y * width * 3;
    if (bpp === 24) {
      for (let x = 0, s = srcRow; x < width; x++, s += 3, o += 3) {
        out[o] = bytes[s + 2];
        out[o + 1] = bytes[s + 1];
        out[o + 2] = bytes[s];
      }
    } else if (bpp === 32 && !masks) {
      for (let x = 0, s = srcRow; x < width; x++, s += 4, o += 3) {
        out[o] = bytes[s + 2];
        out[o + 1] = bytes[s + 1];
        out[o + 2] = bytes[s];
      }
    } else if (bpp === 32 || bpp === 16) {
      const [r, g, b] = masks!;
      for (let x = 0; x < width; x++, o += 3) {
        const px = bpp === 32 ? view.getUint32(srcRow + x * 4, true) : view.getUint16(srcRow + x * 2, true);
        out[o] = expand(px, r);
        out[o + 1] = expand(px, g);
        out[o + 2] = expand(px, b);
      }
    } else {
      const pal = palette!;
      const perByte = 8 / bpp;
      const indexMask = (1 << bpp) - 1;
      for (let x = 0; x < width; x++, o += 3) {
        const byte = bytes[srcRow + Math.floor(x / perByte)];
        // The leftmost pixel sits in the most significant bits.
        const index = (byte >> ((perByte - 1 - (x % perByte)) * bpp)) & indexMask;
        out[o] = pal[index * 3];
        out[o + 1] = pal[index * 3 + 1];
        out[o + 2] = pal[index * 3 + 2];
      }
    }
  }
  return { data: out, width, height };
}
