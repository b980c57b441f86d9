// Accuracy regression on real photos: every TFLite model through classify() on all 500 ImageNet sample
// photos (decoded once), against the TFLite interpreter's own answers on the same photos (tflite-reference).
import * as path from 'path';
import { decodeAll, EVAL_MODELS, evaluate, readGroundTruth, readInterpreterTop1, type SamplePhoto } from '../bench/imagenet';
import type { RgbImage } from '../lib/image/types';
import { DATA_DIR } from './helpers/data';
import { fastestBackend } from './helpers/run';

let photos: SamplePhoto[];
let decoded: Map<string, RgbImage>;

beforeAll(async () => {
  photos = await readGroundTruth(DATA_DIR);
  decoded = await decodeAll(photos);
});

describe.each(EVAL_MODELS.filter((m) => m.tflite))('$name on the 500 ImageNet sample photos', (m) => {
  test('top-1 within 2 points of the TFLite interpreter (4 for V3-Small), same preprocessing', async () => {
    const interp = await readInterpreterTop1(DATA_DIR, m.tflite!);
    const ours = await evaluate(DATA_DIR, m, photos, { backend: await fastestBackend() }, 16, decoded);
    let refHits = 0;
    let agree = 0;
    for (const p of photos) {
      const name = path.basename(p.file);
      if (interp.get(name) === p.index1001) refHits++;
      if (interp.get(name) === ours.predictions.get(name)) agree++;
    }
    const refTop1 = refHits / photos.length;
    const allowed = m.tflite!.includes('v3') ? 0.04 : 0.02;
    console.log(`${m.name}: ours ${(ours.top1 * 100).toFixed(1)}% vs interpreter ${(refTop1 * 100).toFixed(1)}%, same top-1 on ${agree}/${photos.length} (${ours.backend})`);
    expect(photos).toHaveLength(500);
    expect(Math.abs(ours.top1 - refTop1)).toBeLessThanOrEqual(allowed + 1e-9);
  });
});
