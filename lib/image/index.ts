// The image module's public surface: decode any input to RGB, preprocess it for a model, and the presets.
export { decodeImage, DEFAULT_MAX_PIXELS } from './decode';
export type { DecodeOptions } from './decode';
export { decodeBmp } from './bmp';
export { preprocessImage } from './preprocess';
export { cropRegion, resizeRgb } from './resize';
export type { Region } from './resize';
export { PRESETS, presetFor, defaultPresetName } from './presets';
export type { PresetName } from './presets';
export type { ImageInput, RawPixels, RgbImage, PreprocessOptions } from './types';
