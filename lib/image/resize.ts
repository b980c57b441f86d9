// Cropping and resampling of 8-bit RGB images in float32, written to reproduce TensorFlow's resize kernels bit for bit.
import type { PreprocessOptions, RgbImage } from './types';

/** A rectangle of the source image: left, top, width, height in pixels. */
export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The source region a resize mode reads.
 * 'crop' is `tf.image.central_crop(img, f)`: per axis `off = int((size - size*f) / 2)` in double, keeping
 * `size - 2*off` pixels. 'square' is the largest centred square scaled by f (side `round(min(w,h)*f)`), which
 * equals torchvision's / Keras' "resize the short side to 256, centre-crop 224" up to sub-pixel placement.
 *
 * @example
 * cropRegion(517, 606, 'crop', 0.875); // { x: 32, y: 37, width: 453, height: 532 }
 */
export function cropRegion(width: number, height: number, mode: PreprocessOptions['resize'], fraction: number): Region {
  if (mode === 'stretch' || (mode === 'crop' && fraction >= 1)) return { x: 0, y: 0, width, height };
  if (mode === 'crop') {
    const x = Math.trunc((width - width * fraction) / 2);
    const y = Math.trunc((height - height * fraction) / 2);
    return { x, y, width: width - 2 * x, height: height - 2 * y };
  }
  const side = Math.max(1, Math.min(width, height, Math.round(Math.min(width, height) * fraction)));
  return { x: Math.floor((width - side) / 2), y: Math.floor((height - side) / 2), width: side, height: side };
}

/** Per output index: the two source indices to blend and the float32 weight of the second. */
interface Taps {
  lo: Int32Array;
  hi: Int32Array;
  frac: Float32Array;
}

const f32 = Math.fround;

/**
 * Source taps along one axis, computed in float32 exactly as TensorFlow's CPU kernels do:
 * - bilinear-tf1 (legacy, align_corners=false): src = dst * (in/out)
 * - bilinear (TF2 half_pixel_centers): src = (dst + 0.5) * (in/out) - 0.5
 * - bilinear-aligned (align_corners=true): src = dst * ((in-1)/(out-1))
 * then lo = max(floor(src), 0), hi = min(ceil(src), in-1), frac = src - floor(src).
 * 'nearest' uses half-pixel centres: index = min(floor((dst + 0.5) * in/out), in-1), weight 0.
 */
function taps(inSize: number, outSize: number, interpolation: PreprocessOptions['interpolation']): Taps {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float32Array(outSize);
  const scale =
    interpolation === 'bilinear-aligned' ? (outSize > 1 ? f32((inSize - 1) / (outSize - 1)) : 0) : f32(inSize / outSize);
  for (let i = 0; i < outSize; i++) {
    if (interpolation === 'nearest') {
      const n = Math.min(Math.floor(f32(f32(i + 0.5) * scale)), inSize - 1);
      lo[i] = hi[i] = n;
      continue;
    }
    const src = interpolation === 'bilinear' ? f32(f32(f32(i + 0.5) * scale) - 0.5) : f32(i * scale);
    const fl = Math.floor(src);
    lo[i] = Math.max(fl, 0);
    hi[i] = Math.min(Math.ceil(src), inSize - 1);
    frac[i] = f32(src - fl);
  }
  return { lo, hi, frac };
}

/**
 * Resamples a region of an RGB image to outHeight x outWidth, HWC float32 in [0, 255] (not rounded).
 * Each output is the x blend of the top and bottom rows, then the y blend, every step rounded to float32
 * (`t = tl + (tr - tl) * fx`, `b = ...`, `v = t + (b - t) * fy`), which is what TF's resize_bilinear and the
 * TFLite reference tool compute, so rounding the result gives their uint8 tensors exactly.
 *
 * @example
 * const hwc = resizeRgb(img, cropRegion(img.width, img.height, 'crop', 0.875), 224, 224, 'bilinear-tf1');
 */
export function resizeRgb(
  img: RgbImage,
  region: Region,
  outHeight: number,
  outWidth: number,
  interpolation: PreprocessOptions['interpolation'],
): Float32Array {
  const xs = taps(region.width, outWidth, interpolation);
  const ys = taps(region.height, outHeight, interpolation);
  const src = img.data;
  const rowStride = img.width * 3;
  const base = region.y * rowStride + region.x * 3;
  const out = new Float32Array(outHeight * outWidth * 3);
  // Column offsets are the same for every row: compute them once.
  const xlo = new Int32Array(outWidth);
  const xhi = new Int32Array(outWidth);
  for (let x = 0; x < outWidth; x++) {
    xlo[x] = xs.lo[x] * 3;
    xhi[x] = xs.hi[x] * 3;
  }
  let o = 0;
  for (let y = 0; y < outHeight; y++) {
    const top = base + ys.lo[y] * rowStride;
    const bottom = base + ys.hi[y] * rowStride;
    const fy = ys.frac[y];
    for (let x = 0; x < outWidth; x++) {
      const fx = xs.frac[x];
      const l = xlo[x];
      const r = xhi[x];
      for (let c = 0; c < 3; c++, o++) {
        const tl = src[top + l + c];
        const tr = src[top + r + c];
        const bl = src[bottom + l + c];
        const br = src[bottom + r + c];
        // Integer differences are exact; each product and sum is rounded to float32 like the C++ original.
        const t = f32(tl + f32((tr - tl) * fx));
        const b = f32(bl + f32((br - bl) * fx));
        out[o] = f32(t + f32(f32(b - t) * fy));
      }
    }
  }
  return out;
}
