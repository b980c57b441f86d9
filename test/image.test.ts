// Image module tests: decoding (sharp + our BMP reader), TF-exact crop/resize against the TFLite reference tensors and TF.js, presets, errors.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { MobileNetError } from '../lib/errors';
import type { GraphMeta } from '../lib/graph/types';
import { PRESETS, cropRegion, decodeBmp, decodeImage, preprocessImage, presetFor } from '../lib/image';
import type { PreprocessOptions, RgbImage } from '../lib/image';
import { dataPath } from './helpers/data';

const CLASSIC = dataPath('images', 'classic');
const SAMPLES = dataPath('images', 'imagenet_samples');
const REFERENCE = dataPath('tflite-reference', 'armnn');

/** Small seeded PRNG (mulberry32) so every random case is reproducible from the seed in its name. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const randomBytes = (n: number, seed: number): Uint8Array => {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
};

/** The uint8 tensor a preprocessing produces (mean 0, std 1, rounded), as bytes. */
function uint8Tensor(img: RgbImage, size: number, resize: PreprocessOptions['resize']): Uint8Array {
  const t = preprocessImage(img, size, size, { resize, cropFraction: 0.875, interpolation: 'bilinear-tf1', roundToUint8: true, mean: [0, 0, 0], std: [1, 1, 1] });
  return Uint8Array.from(t);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Asserts a promise or call fails with a MobileNetError of this code and a house-format message. */
async function expectError(run: () => unknown, code: string): Promise<MobileNetError> {
  let caught: unknown;
  try {
    await run();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(MobileNetError);
  const err = caught as MobileNetError;
  expect(err.code).toBe(code);
  expect(err.message).toMatch(/^Expected .+, received .+\./);
  return err;
}

describe('TFLite reference input tensors (Arm NN tflite_ref: central_crop 0.875 / whole image, TF1 legacy bilinear, rounded)', () => {
  const images = fs.readdirSync(path.join(REFERENCE, 'crop-legacy', 'mobilenet_v1_0.25_128_quant')).filter((f) => f.endsWith('.rgb')).map((f) => f.slice(0, -4));
  const models = fs.readdirSync(path.join(REFERENCE, 'crop-legacy')).filter((f) => !f.endsWith('.txt'));

  it('covers the seven classic photos and six models', () => {
    expect(images.sort()).toEqual(['bird.bmp', 'cat.bmp', 'dragonfly.bmp', 'grace_hopper.bmp', 'hot_dog.jpg', 'parrot.jpg', 'tfjs_converter_demo_cat.jpg']);
    expect(models).toHaveLength(6);
  });

  // Measured: sharp (mozjpeg build of libjpeg-turbo, ISLOW IDCT, fancy upsampling) decodes these JPEGs to the same
  // bytes as the reference's libjpeg-turbo 2.1.5, so JPEGs are held to exact equality like the BMPs.
  it.each(images)('%s: crop and stretch tensors equal the reference bytes for every model', async (image) => {
    const img = await decodeImage(path.join(CLASSIC, image));
    for (const [variant, resize] of [['crop-legacy', 'crop'], ['full-legacy', 'stretch']] as const) {
      for (const model of models) {
        const size = Number(/_(\d+)_(?:quant|ptq|uint8)$/.exec(model)![1]);
        const ref = fs.readFileSync(path.join(REFERENCE, variant, model, `${image}.rgb`));
        expect(ref.length).toBe(size * size * 3);
        const ours = uint8Tensor(img, size, resize);
        const diff = maxAbsDiff(ours, ref);
        if (diff !== 0) throw new Error(`${variant}/${model}/${image}: max |diff| ${diff}`);
      }
    }
  });

  it("the 'tflite' preset gives the reference tensor dequantized with the file's input mapping (p-128)/128", async () => {
    const img = await decodeImage(path.join(CLASSIC, 'grace_hopper.bmp'));
    const ref = fs.readFileSync(path.join(REFERENCE, 'crop-legacy', 'mobilenet_v2_1.0_224_quant', 'grace_hopper.bmp.rgb'));
    const meta: GraphMeta = { format: 'tflite', name: 'v2', outputKind: 'probabilities', backgroundClass: true, inputRange: { scale: 0.0078125, offset: -1 } };
    const x = preprocessImage(img, 224, 224, presetFor(meta));
    expect(maxAbsDiff(x, Array.from(ref, (q) => (q - 128) * 0.0078125))).toBe(0);
  });
});

describe('crop geometry', () => {
  it('central_crop(0.875) of the 517x606 grace_hopper.bmp starts at x=32, y=37 and keeps 453x532 (reference README)', () => {
    expect(cropRegion(517, 606, 'crop', 0.875)).toEqual({ x: 32, y: 37, width: 453, height: 532 });
  });
  it('a 0.875 centred square of 500x375 is 328x328 in the middle; stretch is the whole image', () => {
    expect(cropRegion(500, 375, 'square', 0.875)).toEqual({ x: 86, y: 23, width: 328, height: 328 });
    expect(cropRegion(500, 375, 'stretch', 0.5)).toEqual({ x: 0, y: 0, width: 500, height: 375 });
    expect(cropRegion(1, 1, 'crop', 0.01)).toEqual({ x: 0, y: 0, width: 1, height: 1 });
  });
});

describe('resize agrees with TF.js tf.image kernels (tfjs-backend-cpu)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  const cases: [number, number, number, number, number][] = [
    // [seed, inH, inW, outH, outW]: down, up, mixed, odd, 1-pixel
    [1, 37, 53, 16, 24],
    [2, 9, 7, 31, 23],
    [3, 64, 20, 17, 45],
    [4, 1, 5, 3, 1],
    [5, 224, 224, 224, 224],
  ];
  const modes: [PreprocessOptions['interpolation'], (x: tf.Tensor3D, s: [number, number]) => tf.Tensor3D][] = [
    ['bilinear-tf1', (x, s) => tf.image.resizeBilinear(x, s, false, false)],
    ['bilinear', (x, s) => tf.image.resizeBilinear(x, s, false, true)],
    ['bilinear-aligned', (x, s) => tf.image.resizeBilinear(x, s, true, false)],
    ['nearest', (x, s) => tf.image.resizeNearestNeighbor(x, s, false, true)],
  ];
  for (const [seed, inH, inW, outH, outW] of cases) {
    for (const [interp, tfResize] of modes) {
      it(`${interp} seed=${seed} [${inH},${inW},3] -> [${outH},${outW},3]`, () => {
        const img: RgbImage = { data: randomBytes(inH * inW * 3, seed), width: inW, height: inH };
        const ours = preprocessImage(img, outH, outW, { resize: 'stretch', cropFraction: 1, interpolation: interp, roundToUint8: false, mean: [0, 0, 0], std: [1, 1, 1] });
        const expected = tf.tidy(() => tfResize(tf.tensor3d(img.data, [inH, inW, 3], 'float32'), [outH, outW]).dataSync());
        // TF.js blends in float64 and stores float32; we round every step to float32 (as TF's C++ kernel does).
        expect(maxAbsDiff(ours, expected)).toBeLessThan(1e-3);
      });
    }
  }
  it('normalisation is (p - mean[c]) / std[c] per channel', () => {
    const img: RgbImage = { data: randomBytes(5 * 4 * 3, 9), width: 4, height: 5 };
    const x = preprocessImage(img, 5, 4, { ...PRESETS.torchvision, resize: 'stretch', cropFraction: 1 });
    const m = PRESETS.torchvision.mean;
    const s = PRESETS.torchvision.std;
    expect(maxAbsDiff(x, Array.from(img.data, (p, i) => (p - m[i % 3]) / s[i % 3]))).toBeLessThan(1e-5);
  });
});

// ---- BMP writer for the tests: builds every supported variant from known pixels. ----

interface BmpSpec {
  name: string;
  bpp: 1 | 4 | 8 | 16 | 24 | 32;
  header: 12 | 40 | 52 | 56 | 108 | 124;
  topDown?: boolean;
  /** r, g, b masks; compression BI_BITFIELDS when set. */
  masks?: [number, number, number];
}

/** Writes a BMP and returns it with the RGB pixels a correct reader must produce. */
function writeBmp(spec: BmpSpec, width: number, height: number, seed: number): { file: Uint8Array; expected: Uint8Array } {
  const r = rng(seed);
  const rand = (n: number) => Math.floor(r() * n);
  const expected = new Uint8Array(width * height * 3);
  const core = spec.header === 12;
  const paletteEntries = spec.bpp <= 8 ? 1 << spec.bpp : 0;
  const entryBytes = core ? 3 : 4;
  const masksAfterHeader = spec.masks && spec.header === 40 ? 12 : 0;
  const stride = Math.floor((width * spec.bpp + 31) / 32) * 4;
  const offset = 14 + spec.header + masksAfterHeader + paletteEntries * entryBytes;
  const file = new Uint8Array(offset + stride * height);
  const dv = new DataView(file.buffer);
  file[0] = 0x42;
  file[1] = 0x4d;
  dv.setUint32(2, file.length, true);
  dv.setUint32(10, offset, true);
  dv.setUint32(14, spec.header, true);
  if (core) {
    dv.setUint16(18, width, true);
    dv.setUint16(20, height, true);
    dv.setUint16(22, 1, true);
    dv.setUint16(24, spec.bpp, true);
  } else {
    dv.setInt32(18, width, true);
    dv.setInt32(22, spec.topDown ? -height : height, true);
    dv.setUint16(26, 1, true);
    dv.setUint16(28, spec.bpp, true);
    dv.setUint32(30, spec.masks ? 3 : 0, true);
    dv.setUint32(34, stride * height, true);
    if (spec.masks) spec.masks.forEach((m, i) => dv.setUint32(54 + i * 4, m, true));
  }
  const palette = Array.from({ length: paletteEntries }, () => [rand(256), rand(256), rand(256)]);
  palette.forEach(([pr, pg, pb], i) => {
    const at = 14 + spec.header + i * entryBytes;
    file[at] = pb;
    file[at + 1] = pg;
    file[at + 2] = pr;
  });
  // Bit replication is the textbook n-bit to 8-bit expansion; it must agree with any correct reader.
  const widen = (v: number, bits: number) => (bits === 8 ? v : bits === 5 ? (v << 3) | (v >> 2) : (v << 2) | (v >> 4));
  for (let y = 0; y < height; y++) {
    const row = offset + stride * (spec.topDown ? y : height - 1 - y);
    for (let x = 0; x < width; x++) {
      const e = (y * width + x) * 3;
      if (spec.bpp <= 8) {
        const index = rand(paletteEntries);
        const perByte = 8 / spec.bpp;
        file[row + Math.floor(x / perByte)] |= index << ((perByte - 1 - (x % perByte)) * spec.bpp);
        expected.set(palette[index], e);
      } else if (spec.bpp === 24 || (spec.bpp === 32 && !spec.masks)) {
        const px = spec.bpp / 8;
        const [pr, pg, pb] = [rand(256), rand(256), rand(256)];
        file[row + x * px] = pb;
        file[row + x * px + 1] = pg;
        file[row + x * px + 2] = pr;
        if (px === 4) file[row + x * px + 3] = rand(256); // unused byte: must be ignored
        expected.set([pr, pg, pb], e);
      } else {
        const masks = spec.masks ?? [0x7c00, 0x03e0, 0x001f];
        let word = 0;
        masks.forEach((mask, c) => {
          let shift = 0;
          while (((mask >>> shift) & 1) === 0) shift++;
          const bits = Math.log2((mask >>> shift) + 1);
          const v = rand(1 << bits);
          word = (word | (v << shift)) >>> 0;
          expected[e + c] = widen(v, bits);
        });
        if (spec.bpp === 32) dv.setUint32(row + x * 4, word, true);
        else dv.setUint16(row + x * 2, word, true);
      }
    }
  }
  return { file, expected };
}

const BMP_SPECS: BmpSpec[] = [
  { name: '24-bit INFO bottom-up', bpp: 24, header: 40 },
  { name: '24-bit INFO top-down', bpp: 24, header: 40, topDown: true },
  { name: '24-bit V4', bpp: 24, header: 108 },
  { name: '24-bit V5 top-down', bpp: 24, header: 124, topDown: true },
  { name: '24-bit CORE', bpp: 24, header: 12 },
  { name: '32-bit BGRX INFO', bpp: 32, header: 40 },
  { name: '32-bit bitfields V5 (BGRA masks)', bpp: 32, header: 124, masks: [0x00ff0000, 0x0000ff00, 0x000000ff] },
  { name: '32-bit bitfields INFO + masks (RGBX order)', bpp: 32, header: 40, masks: [0x000000ff, 0x0000ff00, 0x00ff0000] },
  { name: '16-bit 5-5-5 INFO', bpp: 16, header: 40 },
  { name: '16-bit 5-6-5 bitfields V4', bpp: 16, header: 108, masks: [0xf800, 0x07e0, 0x001f] },
  { name: '8-bit palette INFO', bpp: 8, header: 40 },
  { name: '8-bit palette CORE', bpp: 8, header: 12 },
  { name: '4-bit palette INFO top-down', bpp: 4, header: 40, topDown: true },
  { name: '1-bit palette INFO', bpp: 1, header: 40 },
];

describe('BMP reader on BMPs written from known random pixels', () => {
  const sizes: [number, number][] = [[1, 1], [3, 2], [5, 7], [13, 4], [33, 9]];
  BMP_SPECS.forEach((spec, k) => {
    const cases = sizes.map(([w, h]) => [100 + k + w * 31 + h, w, h]);
    it.each(cases)(`${spec.name}: seed=%i, %ix%i pixels`, async (seed, w, h) => {
      const { file, expected } = writeBmp(spec, w, h, seed);
      const img = await decodeImage(Buffer.from(file));
      expect([img.width, img.height]).toEqual([w, h]);
      expect(maxAbsDiff(img.data, expected)).toBe(0);
    });
  });

  it('the classic BMPs (24-bit V5, bottom-up, padded) decode to their documented sizes', () => {
    const sizes = { 'grace_hopper.bmp': [517, 606], 'cat.bmp': [512, 341], 'bird.bmp': [512, 343], 'dragonfly.bmp': [512, 418] };
    for (const [file, [w, h]] of Object.entries(sizes)) {
      const img = decodeBmp(fs.readFileSync(path.join(CLASSIC, file)));
      expect([file, img.width, img.height]).toEqual([file, w, h]);
    }
  });

  it('fuzz: 1500 damaged BMPs (header bytes rewritten, truncated) either decode or fail with E_IMAGE, seed=77', async () => {
    const r = rng(77);
    const others: string[] = [];
    for (let i = 0; i < 1500; i++) {
      const spec = BMP_SPECS[i % BMP_SPECS.length];
      const { file } = writeBmp(spec, 1 + Math.floor(r() * 9), 1 + Math.floor(r() * 5), i);
      const damaged = Uint8Array.from(file);
      // Most damage goes to the headers and palette, where the offsets and sizes live.
      for (let k = 0; k < 1 + Math.floor(r() * 4); k++) damaged[Math.floor(r() * Math.min(damaged.length, 80))] = Math.floor(r() * 256);
      const bytes = r() < 0.3 ? damaged.subarray(0, Math.floor(r() * damaged.length)) : damaged;
      try {
        const img = decodeBmp(bytes);
        if (img.data.length !== img.width * img.height * 3) others.push(`case ${i}: inconsistent image`);
      } catch (e) {
        if (!(e instanceof MobileNetError && e.code === 'E_IMAGE')) others.push(`case ${i} (${spec.name}): ${String(e)}`);
      }
    }
    expect(others).toEqual([]);
  });

  describe('malformed BMPs are E_IMAGE', () => {
    const good = () => writeBmp(BMP_SPECS[0], 5, 4, 7).file;
    const patched = (edit: (dv: DataView, b: Uint8Array) => Uint8Array | void): Buffer => {
      const b = good();
      const dv = new DataView(b.buffer);
      return Buffer.from(edit(dv, b) ?? b);
    };
    const cases: [string, Buffer, RegExp][] = [
      ['truncated pixel data', patched((_, b) => b.subarray(0, b.length - 20)), /truncated/],
      ['only the signature', Buffer.from('BM'), /header/],
      ['unknown header size 20', patched((dv) => dv.setUint32(14, 20, true)), /header/],
      ['RLE8 compression', patched((dv) => { dv.setUint16(28, 8, true); dv.setUint32(30, 1, true); }), /RLE8/],
      ['7 bits per pixel', patched((dv) => dv.setUint16(28, 7, true)), /bits per pixel/],
      ['zero width', patched((dv) => dv.setInt32(18, 0, true)), /positive width/],
      ['pixel offset past the end', patched((dv) => dv.setUint32(10, 1 << 30, true)), /offset/],
      ['2 planes', patched((dv) => dv.setUint16(26, 2, true)), /plane/],
      ['non-contiguous mask', patched((dv) => { dv.setUint16(28, 32, true); dv.setUint32(30, 3, true); dv.setUint32(54, 0x00ff00ff, true); }), /contiguous/],
      ['60000x60000 pixels', patched((dv) => { dv.setInt32(18, 60000, true); dv.setInt32(22, 60000, true); }), /pixels/],
    ];
    it.each(cases)('%s', async (_name, bytes, message) => {
      const err = await expectError(() => decodeImage(bytes), 'E_IMAGE');
      expect(err.message).toMatch(message);
    });
  });
});

describe('decoding with sharp', () => {
  it('the nine greyscale ImageNet JPEGs come out as 3-channel RGB with R=G=B', async () => {
    const grey = ['acoustic_guitar', 'beaker', 'fountain', 'lumbermill', 'pencil_sharpener', 'projectile', 'rifle', 'switch', 'viaduct'];
    const files = fs.readdirSync(SAMPLES).filter((f) => grey.some((g) => f.endsWith(`_${g}.JPEG`)));
    expect(files).toHaveLength(9);
    for (const f of files) {
      const meta = await sharp(path.join(SAMPLES, f)).metadata();
      expect([f, meta.channels]).toEqual([f, 1]);
      const img = await decodeImage(path.join(SAMPLES, f));
      expect([img.width, img.height, img.data.length]).toEqual([meta.width, meta.height, meta.width! * meta.height! * 3]);
      let notGrey = 0;
      let distinct = 0;
      for (let i = 0; i < img.data.length; i += 3) {
        if (img.data[i] !== img.data[i + 1] || img.data[i] !== img.data[i + 2]) notGrey++;
        if (img.data[i] !== img.data[0]) distinct++;
      }
      expect([f, notGrey]).toEqual([f, 0]);
      expect(distinct).toBeGreaterThan(0);
    }
  });

  it('all 500 ImageNet sample JPEGs decode to RGB of their header size (orientation 0 ignored, apostrophe in a name)', async () => {
    const files = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.JPEG'));
    expect(files).toHaveLength(500);
    const wrong: string[] = [];
    for (const f of files) {
      const full = path.join(SAMPLES, f);
      const meta = await sharp(full).metadata();
      const img = await decodeImage(full);
      // None of these has a rotating orientation (MANIFEST: 19 say 1, thunder_snake says 0).
      if (img.width !== meta.width || img.height !== meta.height || img.data.length !== img.width * img.height * 3) wrong.push(f);
    }
    expect(wrong).toEqual([]);
  });

  const source = (w: number, h: number, seed: number): RgbImage => ({ data: randomBytes(w * h * 3, seed), width: w, height: h });
  const sharpRaw = (img: RgbImage, channels: 1 | 3 | 4 = 3) => sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels } });

  it.each([
    ['png', (s: sharp.Sharp) => s.png()],
    ['webp lossless', (s: sharp.Sharp) => s.webp({ lossless: true })],
    ['tiff', (s: sharp.Sharp) => s.tiff({ compression: 'lzw' })],
  ] as const)('lossless %s round-trips random pixels exactly (seed=21, 19x11x3)', async (_name, encode) => {
    const img = source(19, 11, 21);
    const bytes = await encode(sharpRaw(img)).toBuffer();
    const back = await decodeImage(bytes);
    expect([back.width, back.height]).toEqual([19, 11]);
    expect(maxAbsDiff(back.data, img.data)).toBe(0);
    // ArrayBuffer and Uint8Array views of the same bytes too.
    const ab = new Uint8Array(bytes).buffer; // a fresh, exactly-sized ArrayBuffer
    expect(maxAbsDiff((await decodeImage(ab)).data, img.data)).toBe(0);
    expect(maxAbsDiff((await decodeImage(new Uint8Array(ab))).data, img.data)).toBe(0);
  });

  it('GIF, AVIF and progressive JPEG decode to the right size', async () => {
    const img = source(24, 16, 22);
    for (const bytes of [await sharpRaw(img).gif().toBuffer(), await sharpRaw(img).avif({ effort: 0 }).toBuffer(), await sharpRaw(img).jpeg({ progressive: true }).toBuffer()]) {
      const back = await decodeImage(bytes);
      expect([back.width, back.height, back.data.length]).toEqual([24, 16, 24 * 16 * 3]);
    }
    const cat = await decodeImage(path.join(CLASSIC, 'tfjs_tflite_demo_cat.jpg')); // progressive (MANIFEST)
    expect([cat.width, cat.height]).toEqual([352, 352]);
  });

  it('a CMYK JPEG comes out as RGB close to the source colours (seed=25, 24x16x3 mid-tones)', async () => {
    const img: RgbImage = { data: Uint8Array.from(randomBytes(24 * 16 * 3, 25), (v) => 96 + (v & 63)), width: 24, height: 16 };
    const cmyk = await sharpRaw(img).toColourspace('cmyk').jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer();
    expect((await sharp(cmyk).metadata()).channels).toBe(4);
    const back = await decodeImage(cmyk);
    expect([back.width, back.height, back.data.length]).toEqual([24, 16, 24 * 16 * 3]);
    // Through the CMYK profile and back: measured mean |diff| 4.4, max 12 for in-gamut mid-tones.
    const meanDiff = back.data.reduce((acc, v, i) => acc + Math.abs(v - img.data[i]), 0) / back.data.length;
    expect(meanDiff).toBeLessThan(8);
  });

  it('PNG alpha is flattened on white; 16-bit and greyscale PNGs become 8-bit RGB', async () => {
    // Pixel 0 opaque red, pixel 1 fully transparent blue, pixel 2 half-transparent black.
    const rgba = Uint8Array.from([255, 0, 0, 255, 0, 0, 255, 0, 0, 0, 0, 128]);
    const png = await sharp(Buffer.from(rgba), { raw: { width: 3, height: 1, channels: 4 } }).png().toBuffer();
    const flat = await decodeImage(png);
    expect(Array.from(flat.data.subarray(0, 6))).toEqual([255, 0, 0, 255, 255, 255]);
    expect(Math.abs(flat.data[6] - 127)).toBeLessThanOrEqual(1);

    const img = source(8, 6, 23);
    const png16 = await sharpRaw(img).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    expect(maxAbsDiff((await decodeImage(png16)).data, img.data)).toBeLessThanOrEqual(1);

    const grey = randomBytes(8 * 6, 24);
    const pngGrey = await sharp(Buffer.from(grey), { raw: { width: 8, height: 6, channels: 1 } }).png().toBuffer();
    const g = await decodeImage(pngGrey);
    expect(maxAbsDiff(g.data, Array.from(g.data, (_, i) => grey[Math.floor(i / 3)]))).toBe(0);
  });

  describe('EXIF orientation', () => {
    // Orientation n means "apply this transform to display"; each maps stored (x, y) in a WxH image to display coordinates.
    const rotations: [number, (w: number, h: number, x: number, y: number) => [number, number], boolean][] = [
      [3, (w, h, x, y) => [w - 1 - x, h - 1 - y], false], // 180
      [6, (_w, h, x, y) => [h - 1 - y, x], true], // 90 clockwise
      [8, (w, _h, x, y) => [y, w - 1 - x], true], // 90 counter-clockwise
      [2, (w, _h, x, y) => [w - 1 - x, y], false], // mirrored
    ];
    it.each(rotations)('orientation %i (seed=31, 13x7x3 JPEG) is applied', async (orientation, map, swaps) => {
      const img = source(13, 7, 31);
      const jpeg = (o: number) => sharpRaw(img).jpeg({ quality: 95 }).withMetadata({ orientation: o }).toBuffer();
      const upright = await decodeImage(await jpeg(1)); // same JPEG data, no transform: the stored pixels
      const turned = await decodeImage(await jpeg(orientation));
      expect((await sharp(await jpeg(orientation)).metadata()).orientation).toBe(orientation);
      const [dw, dh] = swaps ? [7, 13] : [13, 7];
      expect([turned.width, turned.height]).toEqual([dw, dh]);
      let wrong = 0;
      for (let y = 0; y < 7; y++) {
        for (let x = 0; x < 13; x++) {
          const [tx, ty] = map(13, 7, x, y);
          for (let c = 0; c < 3; c++) if (turned.data[(ty * dw + tx) * 3 + c] !== upright.data[(y * 13 + x) * 3 + c]) wrong++;
        }
      }
      expect(wrong).toBe(0);
    });
    it.each([0, 9, 255])('an out-of-range orientation %i (patched into the EXIF of an orientation-6 JPEG) means no rotation', async (value) => {
      const img = source(13, 7, 32);
      const upright = await decodeImage(await sharpRaw(img).jpeg({ quality: 95 }).toBuffer());
      const jpeg = Buffer.from(await sharpRaw(img).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer());
      const tiff = jpeg.indexOf(Buffer.from('Exif\0\0', 'latin1')) + 6;
      const littleEndian = jpeg[tiff] === 0x49;
      // IFD entry: tag 0x0112 (Orientation), type 3 (SHORT), count 1, then the value.
      const entry = jpeg.indexOf(Buffer.from(littleEndian ? [0x12, 0x01, 0x03, 0x00, 1, 0, 0, 0] : [0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]), tiff);
      expect(entry).toBeGreaterThan(tiff);
      if (littleEndian) jpeg.writeUInt16LE(value, entry + 8);
      else jpeg.writeUInt16BE(value, entry + 8);
      const decoded = await decodeImage(jpeg);
      expect([decoded.width, decoded.height]).toEqual([13, 7]);
      expect(maxAbsDiff(decoded.data, upright.data)).toBe(0);
    });
  });
});

describe('raw pixels', () => {
  const w = 5;
  const h = 3;
  const rgb = randomBytes(w * h * 3, 41);
  it('RGBA without a channels field (ImageData-like, Uint8ClampedArray) drops alpha (seed=41, 3x5x4)', async () => {
    const rgba = new Uint8ClampedArray(w * h * 4);
    for (let i = 0; i < w * h; i++) rgba.set([rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2], i * 17], i * 4);
    const img = await decodeImage({ data: rgba, width: w, height: h });
    expect(Array.from(img.data)).toEqual(Array.from(rgb));
  });
  it('RGB with channels: 3 and inferred, and grey with channels: 1 and inferred (seed=41)', async () => {
    for (const channels of [3, undefined] as const) expect(Array.from((await decodeImage({ data: rgb, width: w, height: h, channels })).data)).toEqual(Array.from(rgb));
    const grey = rgb.subarray(0, w * h);
    for (const channels of [1, undefined] as const) {
      const img = await decodeImage({ data: Buffer.from(grey), width: w, height: h, channels });
      expect(Array.from(img.data)).toEqual(Array.from(grey).flatMap((v) => [v, v, v]));
    }
  });
  it('the decoded copy does not alias the caller\'s buffer', async () => {
    const data = Uint8Array.from(rgb);
    const img = await decodeImage({ data, width: w, height: h, channels: 3 });
    data[0] ^= 0xff;
    expect(img.data[0]).toBe(rgb[0]);
  });
  const bad: [string, unknown][] = [
    ['length matching no channel count', { data: new Uint8Array(w * h * 2), width: w, height: h }],
    ['channels 2', { data: new Uint8Array(w * h * 2), width: w, height: h, channels: 2 }],
    ['length not matching channels', { data: new Uint8Array(w * h * 3), width: w, height: h, channels: 4 }],
    ['zero width', { data: new Uint8Array(0), width: 0, height: h }],
    ['fractional height', { data: new Uint8Array(30), width: 4, height: 2.5 }],
    ['a plain array', { data: Array.from(rgb), width: w, height: h }],
    ['Float32Array data', { data: new Float32Array(w * h * 3), width: w, height: h }],
  ];
  it.each(bad)('%s is E_ARG', async (_name, input) => {
    await expectError(() => decodeImage(input as never), 'E_ARG');
  });
});

describe('bad inputs are MobileNetErrors with a code, never a crash', () => {
  const crc = (bytes: Buffer) => zlib.crc32(bytes) >>> 0;
  /** A PNG whose header claims w x h: signature, IHDR with a valid CRC, a tiny IDAT, IEND. */
  function pngClaiming(w: number, h: number): Buffer {
    const chunk = (type: string, data: Buffer) => {
      const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      const sum = Buffer.alloc(4);
      sum.writeUInt32BE(crc(body));
      return Buffer.concat([len, body, sum]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(w, 0);
    ihdr.writeUInt32BE(h, 4);
    ihdr[8] = 8; // bit depth
    ihdr[9] = 2; // RGB
    return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
  }

  it('a PNG claiming 60000x60000 pixels is refused from its header, quickly', async () => {
    const png = pngClaiming(60000, 60000);
    expect((await sharp(png, { limitInputPixels: false }).metadata()).width).toBe(60000);
    const t0 = Date.now();
    const err = await expectError(() => decodeImage(png), 'E_IMAGE');
    expect(err.message).toMatch(/at most 100000000 pixels.*60000x60000/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
  it('maxPixels is honoured for a real photo, and sharp\'s own limit backs it up', async () => {
    const err = await expectError(() => decodeImage(path.join(CLASSIC, 'hot_dog.jpg'), { maxPixels: 512 * 384 - 1 }), 'E_IMAGE');
    expect(err.message).toMatch(/at most 196607 pixels.*512x384/);
    expect((await decodeImage(path.join(CLASSIC, 'hot_dog.jpg'), { maxPixels: 512 * 384 })).width).toBe(512);
  });
  it('a truncated JPEG is E_IMAGE (sharp would pad it with grey)', async () => {
    const jpeg = fs.readFileSync(path.join(CLASSIC, 'hot_dog.jpg'));
    for (const keep of [0.5, 0.95]) await expectError(() => decodeImage(jpeg.subarray(0, Math.floor(jpeg.length * keep))), 'E_IMAGE');
  });
  it('a truncated PNG is E_IMAGE', async () => {
    const png = await sharp(Buffer.from(randomBytes(40 * 30 * 3, 51)), { raw: { width: 40, height: 30, channels: 3 } }).png().toBuffer();
    await expectError(() => decodeImage(png.subarray(0, Math.floor(png.length / 2))), 'E_IMAGE');
  });
  it('fuzz: 60 damaged JPEGs and PNGs (bytes rewritten, truncated) either decode to consistent RGB or fail with E_IMAGE, seed=61', async () => {
    const r = rng(61);
    const img = Buffer.from(randomBytes(24 * 16 * 3, 62));
    const sources = [
      await sharp(img, { raw: { width: 24, height: 16, channels: 3 } }).jpeg().toBuffer(),
      await sharp(img, { raw: { width: 24, height: 16, channels: 3 } }).png().toBuffer(),
    ];
    const others: string[] = [];
    for (let i = 0; i < 60; i++) {
      const damaged = Buffer.from(sources[i % 2]);
      for (let k = 0; k < 1 + Math.floor(r() * 6); k++) damaged[Math.floor(r() * damaged.length)] = Math.floor(r() * 256);
      const bytes = i % 3 === 0 ? damaged.subarray(0, Math.floor(r() * damaged.length)) : damaged;
      try {
        const out = await decodeImage(bytes);
        if (out.data.length !== out.width * out.height * 3) others.push(`case ${i}: inconsistent image`);
      } catch (e) {
        if (!(e instanceof MobileNetError && e.code === 'E_IMAGE')) others.push(`case ${i}: ${String(e)}`);
      }
    }
    expect(others).toEqual([]);
  });
  it('non-image bytes and empty input are E_IMAGE', async () => {
    const err = await expectError(() => decodeImage(Buffer.from('definitely not an image, just some text')), 'E_IMAGE');
    expect(err.message).toMatch(/not a known image format/);
    await expectError(() => decodeImage(Buffer.alloc(0)), 'E_IMAGE');
    await expectError(() => decodeImage(new ArrayBuffer(0)), 'E_IMAGE');
    await expectError(() => decodeImage(randomBytes(4096, 52)), 'E_IMAGE');
  });
  it('a missing file or a directory is E_IO', async () => {
    const missing = path.join(os.tmpdir(), 'mobilenet-no-such-file-4711.jpg');
    const err = await expectError(() => decodeImage(missing), 'E_IO');
    expect(err.message).toMatch(/no such file/);
    await expectError(() => decodeImage(os.tmpdir()), 'E_IO');
  });
  it('wrong argument types and options are E_ARG', async () => {
    for (const input of [42, null, undefined, {}, '', new Float32Array(4), [1, 2, 3]]) await expectError(() => decodeImage(input as never), 'E_ARG');
    for (const maxPixels of [0, -5, NaN, Infinity, '10' as unknown as number]) await expectError(() => decodeImage(Buffer.alloc(4), { maxPixels }), 'E_ARG');
  });
  it('preprocessImage checks its image, size and options', async () => {
    const img: RgbImage = { data: randomBytes(4 * 4 * 3, 53), width: 4, height: 4 };
    await expectError(() => preprocessImage(img, 0, 224, PRESETS.keras), 'E_ARG');
    await expectError(() => preprocessImage(img, 224, 1.5, PRESETS.keras), 'E_ARG');
    await expectError(() => preprocessImage({ ...img, width: 5 }, 8, 8, PRESETS.keras), 'E_ARG');
    const badOptions: Partial<PreprocessOptions>[] = [
      { resize: 'zoom' as never }, { cropFraction: 0 }, { cropFraction: 1.5 }, { interpolation: 'cubic' as never },
      { roundToUint8: 1 as never }, { mean: [1, 2] as never }, { std: [1, 0, 1] }, { mean: [NaN, 0, 0] },
    ];
    for (const o of badOptions) await expectError(() => preprocessImage(img, 8, 8, { ...PRESETS.keras, ...o }), 'E_ARG');
  });
});

describe('presets', () => {
  const meta = (format: string, extra: Partial<GraphMeta> = {}): GraphMeta => ({ format, name: 'model', outputKind: 'probabilities', backgroundClass: false, ...extra });
  const f32 = Math.fround;

  it('TFLite: TF-slim crop + legacy bilinear, uint8, mean/std from the input quantization of each file (MANIFEST §1.1)', () => {
    // real = (q - zp) * scale = q*scale + offset with offset = -zp*scale; the float32 scales as stored.
    const files: [number, number, number, number][] = [
      [f32(0.0078125), 128, 128, 128], // v1/v2 quant: (p-128)/128
      [f32(0.007874015718698502), 128, 128, 127], // v3-small: (p-128)/127
      [f32(0.007843137718737125), 127, 127, 127.5], // tf2 ptq: (p-127)/127.5
    ];
    for (const [scale, zp, mean, std] of files) {
      const p = presetFor(meta('tflite', { inputRange: { scale, offset: -zp * scale } }));
      expect(p).toMatchObject({ resize: 'crop', cropFraction: 0.875, interpolation: 'bilinear-tf1', roundToUint8: true, mean: [mean, mean, mean] });
      for (const s of p.std) expect(s).toBeCloseTo(std, 4);
    }
  });
  it('defaults per source: tfjs-layers -> keras [-1,1], nsfwjs by name -> [0,1] aligned bilinear, tfjs-graph -> tfhub [0,1]', () => {
    expect(presetFor(meta('tfjs-layers'))).toEqual(PRESETS.keras);
    expect(PRESETS.keras).toMatchObject({ mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] });
    expect(presetFor(meta('tfjs-layers', { name: 'nsfwjs_mobilenet_v2_uint8' }))).toEqual(PRESETS.nsfwjs);
    expect(presetFor(meta('tfjs-layers', { name: 'model_1', inputRange: { scale: 1 / 255, offset: 0 } }))).toEqual(PRESETS.nsfwjs);
    expect(presetFor(meta('tfjs-layers', { name: 'mobilenet_0.25_224', inputRange: { scale: 1 / 127.5, offset: -1 } }))).toEqual(PRESETS.keras);
    expect(PRESETS.nsfwjs).toMatchObject({ resize: 'stretch', interpolation: 'bilinear-aligned', mean: [0, 0, 0], std: [255, 255, 255] });
    expect(presetFor(meta('tfjs-graph'))).toEqual(PRESETS.tfhub);
    expect(PRESETS.tfhub).toMatchObject({ mean: [0, 0, 0], std: [255, 255, 255] });
    expect(presetFor(meta('builtin'))).toEqual(PRESETS.keras);
    expect(PRESETS.torchvision.mean.map((m) => m / 255)).toEqual([0.485, 0.456, 0.406].map((m) => expect.closeTo(m, 12)));
  });
  it('a file-stated input range wins over the preset guess, explicit fields win over both', () => {
    expect(presetFor(meta('tfjs-graph', { inputRange: { scale: 2 / 255, offset: -1 } })).mean).toEqual([127.5, 127.5, 127.5]);
    const o = presetFor(meta('tflite', { inputRange: { scale: 1 / 128, offset: -1 } }), { resize: 'stretch', mean: [1, 2, 3] });
    expect(o).toMatchObject({ resize: 'stretch', interpolation: 'bilinear-tf1', mean: [1, 2, 3], std: [128, 128, 128] });
    expect(presetFor(meta('tflite'), 'torchvision')).toEqual(PRESETS.torchvision);
    expect(presetFor(meta('tfjs-layers'), 'tflite')).toEqual(PRESETS.tflite);
  });
  it('presetFor returns a copy: mutating it leaves PRESETS alone', () => {
    const p = presetFor(meta('tfjs-layers'));
    p.mean[0] = 0;
    expect(PRESETS.keras.mean[0]).toBe(127.5);
  });
  it('unknown names, fields, values and formats are E_ARG; a broken input range is E_MODEL_FORMAT', async () => {
    await expectError(() => presetFor(meta('tflite'), 'caffe'), 'E_ARG');
    await expectError(() => presetFor(meta('tflite'), { crop: 0.5 } as never), 'E_ARG');
    await expectError(() => presetFor(meta('tflite'), { cropFraction: 2 }), 'E_ARG');
    await expectError(() => presetFor(meta('onnx')), 'E_ARG');
    await expectError(() => presetFor(null as never), 'E_ARG');
    await expectError(() => presetFor(meta('tflite', { inputRange: { scale: 0, offset: 1 } })), 'E_MODEL_FORMAT');
  });
});
