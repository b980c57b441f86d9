// Named preprocessing presets and the rule that picks one for a loaded model: the recipe its publisher evaluates with.
import { describeValue, fail } from '../errors';
import type { GraphMeta } from '../graph/types';
import { checkPreprocessOptions } from './preprocess';
import type { PreprocessOptions } from './types';

/** Preset names accepted by {@link presetFor} and the `preprocess` option of `load`. */
export type PresetName = 'tflite' | 'keras' | 'tfhub' | 'nsfwjs' | 'torchvision';

const grey = (v: number): [number, number, number] => [v, v, v];

/**
 * The presets, each the evaluation recipe of the people who trained/published the weights. Measured top-1 on
 * the 500 ImageNet sample photos (our runtime; these photos are likely training-split, so a consistency check,
 * not a validation figure): Keras V1 0.75 86.4% with its default against 84.8% whole photo (bilinear) and 83.8%
 * whole photo with align-corners (TF.js tfjs-models style); Keras V1 0.25 57.8% against 54.0-54.4%; TF-Hub
 * V1 0.25 55.0% with its default against 50.4-51.0%.
 *
 * - tflite: TF-slim evaluation (central_crop 0.875, TF1 legacy bilinear) fed as uint8 like the TFLite tools;
 *   mean/std here are the usual zero point 128, scale 1/128; {@link presetFor} takes them from the file.
 * - keras: [-1, 1]; the Keras maintainers' ImageNet recipe (short side to 256, centre 224 = a centred square
 *   of 0.875, keras-team/keras-applications#88).
 * - tfhub: [0, 1] (TF-Hub image-module convention), TF-slim crop + legacy bilinear as for the TFLite files.
 * - nsfwjs: [0, 1], the whole image, bilinear with align_corners=true, exactly as nsfwjs feeds its model.
 * - torchvision: ImageNet mean/std, Resize(256) + CenterCrop(224) as a 0.875 centred square, bilinear.
 *
 * @example
 * preprocessImage(img, 224, 224, PRESETS.torchvision);
 */
export const PRESETS: Readonly<Record<PresetName, Readonly<PreprocessOptions>>> = Object.freeze({
  tflite: Object.freeze({ resize: 'crop', cropFraction: 0.875, interpolation: 'bilinear-tf1', roundToUint8: true, mean: grey(128), std: grey(128) }),
  keras: Object.freeze({ resize: 'square', cropFraction: 0.875, interpolation: 'bilinear', roundToUint8: false, mean: grey(127.5), std: grey(127.5) }),
  tfhub: Object.freeze({ resize: 'crop', cropFraction: 0.875, interpolation: 'bilinear-tf1', roundToUint8: false, mean: grey(0), std: grey(255) }),
  nsfwjs: Object.freeze({ resize: 'stretch', cropFraction: 1, interpolation: 'bilinear-aligned', roundToUint8: false, mean: grey(0), std: grey(255) }),
  torchvision: Object.freeze({
    resize: 'square', cropFraction: 0.875, interpolation: 'bilinear', roundToUint8: false,
    mean: [0.485 * 255, 0.456 * 255, 0.406 * 255], std: [0.229 * 255, 0.224 * 255, 0.225 * 255],
  }),
}) as Record<PresetName, PreprocessOptions>;

const OPTION_KEYS: (keyof PreprocessOptions)[] = ['resize', 'cropFraction', 'interpolation', 'roundToUint8', 'mean', 'std'];

/**
 * The preset a model's publisher evaluates with, from its file format (and input range or name, for nsfwjs).
 *
 * @example
 * defaultPresetName(graph.meta); // 'tflite' for a .tflite file
 */
export function defaultPresetName(meta: GraphMeta): PresetName {
  switch (meta.format) {
    case 'tflite':
      return 'tflite';
    case 'tfjs-graph':
      return 'tfhub';
    case 'tfjs-layers': {
      // A layers model that is not a Keras-applications MobileNet takes [0, 1] (the importer's rule, e.g.
      // nsfwjs, whose model is just "model_1"): a TF.js app model, fed the way nsfwjs feeds it.
      const text = [meta.name, ...Object.values(meta.notes ?? {})].join(' ');
      const unitRange = meta.inputRange !== undefined && meta.inputRange.offset === 0 && Math.abs(meta.inputRange.scale * 255 - 1) < 1e-9;
      return /nsfw/i.test(text) || unitRange ? 'nsfwjs' : 'keras';
    }
    case 'builtin':
      return 'keras';
    default:
      return fail('E_ARG', "a model format of 'tflite', 'tfjs-layers', 'tfjs-graph' or 'builtin'", describeValue(meta.format), 'Pass a preset name, e.g. preprocess: "keras".');
  }
}

/** Snaps a value within 1e-6 of a multiple of 0.5 (zero points are integers; float32 scales leave dust); no -0. */
const tidy = (v: number): number => (Math.abs(v * 2 - Math.round(v * 2)) < 1e-6 ? Math.round(v * 2) / 2 : v) + 0;

/**
 * The preprocessing for a loaded model. Order of precedence, lowest first:
 * 1. the preset its publisher evaluates with (tflite -> 'tflite', tfjs-graph -> 'tfhub', tfjs-layers -> 'keras',
 *    or 'nsfwjs' for a [0, 1] layers model such as nsfwjs, builtin -> 'keras'), or the named preset in `override`;
 * 2. mean/std from the file's own input mapping `meta.inputRange` (real = p*scale + offset, so mean =
 *    -offset/scale, std = 1/scale), because the file states a fact the preset can only guess;
 * 3. the fields given in an object `override`.
 * Throws E_ARG for an unknown preset name, an unknown field or a bad value.
 *
 * @example
 * presetFor(graph.meta);                           // the publisher's recipe
 * presetFor(graph.meta, 'torchvision');            // another named preset
 * presetFor(graph.meta, { resize: 'stretch' });    // the default with the whole image instead of a crop
 */
export function presetFor(meta: GraphMeta, override?: Partial<PreprocessOptions> | string): PreprocessOptions {
  if (typeof meta !== 'object' || meta === null) fail('E_ARG', 'graph metadata {format, ...}', describeValue(meta), 'Pass graph.meta of a loaded model.');
  let name: PresetName;
  if (typeof override === 'string') {
    if (!(override in PRESETS)) fail('E_ARG', `a preset name (${Object.keys(PRESETS).join(', ')})`, describeValue(override), 'Use one of these names or pass an options object.');
    name = override as PresetName;
  } else {
    name = defaultPresetName(meta);
  }
  const base = PRESETS[name];
  const opts: PreprocessOptions = { ...base, mean: [...base.mean], std: [...base.std] };

  const range = meta.inputRange;
  if (range !== undefined) {
    const { scale, offset } = range;
    const broken = () =>
      fail('E_MODEL_FORMAT', 'an input mapping {scale, offset}: a positive normal float32 scale and a finite offset, giving a finite mean and a non-zero std', `scale ${describeValue(scale)}, offset ${describeValue(offset)}`, 'The model file has a broken input quantization; pass preprocess: {mean, std} explicitly if you know them.');
    // a corrupt scale (a flipped byte) must read as a broken file, not as the user's bad preprocess option (E_ARG)
    if (!(typeof scale === 'number' && scale >= 2 ** -126 && scale <= 3.4028234663852886e38 && typeof offset === 'number' && Number.isFinite(offset))) broken();
    const mean = tidy(-offset / scale);
    const std = tidy(1 / scale);
    if (!(Number.isFinite(mean) && Number.isFinite(std) && std !== 0)) broken();
    opts.mean = grey(mean);
    opts.std = grey(std);
  }

  if (override !== undefined && typeof override !== 'string') {
    if (typeof override !== 'object' || override === null || Array.isArray(override)) {
      fail('E_ARG', 'a preset name or a partial options object', describeValue(override), `Pass e.g. 'keras' or { resize: 'stretch' }.`);
    }
    for (const key of Object.keys(override)) {
      if (!OPTION_KEYS.includes(key as keyof PreprocessOptions)) fail('E_ARG', `preprocess fields among ${OPTION_KEYS.join(', ')}`, describeValue(key), 'Check the spelling of the field.');
    }
    const o = override as Partial<PreprocessOptions>;
    if (o.resize !== undefined) opts.resize = o.resize;
    if (o.cropFraction !== undefined) opts.cropFraction = o.cropFraction;
    if (o.interpolation !== undefined) opts.interpolation = o.interpolation;
    if (o.roundToUint8 !== undefined) opts.roundToUint8 = o.roundToUint8;
    if (o.mean !== undefined) opts.mean = Array.isArray(o.mean) ? ([...o.mean] as PreprocessOptions['mean']) : o.mean;
    if (o.std !== undefined) opts.std = Array.isArray(o.std) ? ([...o.std] as PreprocessOptions['std']) : o.std;
  }
  checkPreprocessOptions(opts);
  return opts;
}
