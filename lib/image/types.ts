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
  /**
   * 'stretch': the whole image to HxW (aspect not kept); 'crop': TF central_crop of `cropFraction` of each side
   * first (aspect kept); 'square': the centred square of side min(w,h)*cropFraction first (torchvision/Keras
   * "resize 256, centre-crop 224" when cropFraction is 0.875).
   */
  resize: 'stretch' | 'crop' | 'square';
  /** Fraction kept by 'crop' and 'square', in (0, 1] (TF-slim evaluation: 0.875). */
  cropFraction: number;
  /**
   * 'bilinear-tf1': TF1 legacy resize_bilinear (align_corners=false, no half-pixel); 'bilinear': half-pixel
   * centres (TF2 tf.image.resize); 'bilinear-aligned': align_corners=true (TF.js apps such as nsfwjs);
   * 'nearest': half-pixel nearest neighbour.
   */
  interpolation: 'bilinear-tf1' | 'bilinear' | 'bilinear-aligned' | 'nearest';
  /** Round resized pixels to 8-bit before normalising (what TFLite pipelines feed). */
  roundToUint8: boolean;
  mean: [number, number, number];
  std: [number, number, number];
}
