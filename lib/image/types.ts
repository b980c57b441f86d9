// Image types shared by decoding, preprocessing and the API: what a user may pass, what decoding yields.

/** Raw pixels a user (or a browser renderer: ImageData) may pass instead of an encoded file. */
export interface RawPixels {
  data: Uint8Array | Uint8ClampedArray | Buffer;
  width: number;
  height: number;
  /** 1 (grey), 3 (RGB) or 4 (RGBA); ImageData has no field and is RGBA. */
  channels?: 1 | 3 | 4;
}

/** Anything `classify`/`embed` accept: a path, encoded bytes, or raw pixels. */
export type ImageInput = string | Buffer | ArrayBuffer | Uint8Array | RawPixels;

/** A decoded image: always 8-bit RGB, row-major, tightly packed. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * How a decoded image becomes the model's input tensor.
 * value[c] = (pixel[c] - mean[c]) / std[c], with pixels in [0, 255].
 */
export interface PreprocessOptions {
  /** 'stretch': the whole image to HxW (aspect not kept); 'crop': a central crop of `cropFraction` first. */
  resize: 'stretch' | 'crop';
  /** Fraction of each side kept by 'crop' (TF-slim evaluation: 0.875). */
  cropFraction: number;
  /** 'bilinear-tf1': TF1 legacy resize_bilinear (align_corners=false, no half-pixel); 'bilinear': half-pixel centres. */
  interpolation: 'bilinear-tf1' | 'bilinear' | 'nearest';
  /** Round resized pixels to 8-bit before normalising (what TFLite pipelines feed). */
  roundToUint8: boolean;
  mean: [number, number, number];
  std: [number, number, number];
}
