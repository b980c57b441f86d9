// Accuracy regression on real photos: every TFLite model through classify() on 100 of the ImageNet
// sample photos, against the TFLite interpreter's own answers on the same photos (tflite-reference).
import * as path from 'path';
import { EVAL_MODELS, evaluate, readGroundTruth, readInterpreterTop1 } from '../bench/imagenet';
import { DATA_DIR } from './helpers/data';
import { fastestBackend } from './helpers/run';

// every 5th photo: 100 photos spread over 100 classes (npm run eval covers all 500)
const STRIDE = 5;

describe.each(EVAL_MODELS.filter((m) => m.tflite))('$name on 100 ImageNet sample photos', (m) => {
  test('top-1 within 2 points of the TFLite interpreter (4 for V3-Small), same preprocessing', async () => {
    const photos = (await readGroundTruth(DATA_DIR)).filter((_, i) => i % STRIDE === 0);
    const interp = await readInterpreterTop1(DATA_DIR, m.tflite!);
    const ours = await evaluate(DATA_DIR, m, photos, { backend: await fastestBackend() });
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
    expect(Math.abs(ours.top1 - refTop1)).toBeLessThanOrEqual(allowed + 1e-9);
  });
});
