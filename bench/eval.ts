// `npm run eval`: top-1/top-5 of every model in ../shared/data on all 500 ImageNet sample photos, next to
// the independent references (TF.js, the TFLite interpreter), as the table the README quotes.
import * as path from 'path';
import { decodeAll, EVAL_MODELS, evaluate, readGroundTruth, readInterpreterTop1 } from './imagenet';

async function main(): Promise<void> {
  const dataDir = process.env.MOBILENET_TEST_DATA ?? path.resolve(__dirname, '..', '..', 'shared', 'data');
  const photos = await readGroundTruth(dataDir);
  const decoded = await decodeAll(photos);
  const backend = (process.env.MOBILENET_BACKEND as never) ?? 'auto';
  console.log(`| model | preprocessing | backend | photos | top-1 | top-5 | reference top-1 | same top-1 as reference |`);
  console.log(`|---|---|---|---:|---:|---:|---|---:|`);
  for (const m of EVAL_MODELS) {
    const r = await evaluate(dataDir, m, photos, { backend }, 16, decoded);
    let ref = m.reference ? `${(m.reference.top1 * 100).toFixed(1)}% (${m.reference.source})` : '';
    let same = '';
    if (m.tflite) {
      const interp = await readInterpreterTop1(dataDir, m.tflite);
      let hits = 0;
      let agree = 0;
      for (const p of photos) {
        const name = path.basename(p.file);
        if (interp.get(name) === p.index1001) hits++;
        if (interp.get(name) === r.predictions.get(name)) agree++;
      }
      ref = `${((hits / photos.length) * 100).toFixed(1)}% (TFLite interpreter, same crop)`;
      same = `${agree}/${photos.length}`;
    }
    const prep = m.preprocess ? JSON.stringify(m.preprocess) : 'default';
    console.log(`| ${m.name} | ${prep} | ${r.backend} | ${r.photos} | ${(r.top1 * 100).toFixed(1)}% | ${(r.top5 * 100).toFixed(1)}% | ${ref} | ${same} |`);
  }
}

main().catch((e) => {
  console.error(`eval: ${(e as Error).message}`);
  process.exit(1);
});
