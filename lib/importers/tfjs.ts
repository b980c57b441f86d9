// TF.js importer entry: checks a parsed model.json, reads its weight shards and dispatches to the
// layers-format (Keras) or graph-format (converted GraphDef) importer.
import { MobileNetError, describeValue } from '../errors';
import type { Graph } from '../graph/types';
import { importGraphModel } from './tfjs-graph';
import { importLayers } from './tfjs-layers';
import { readTfjsWeights } from './tfjs-weights';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Which TF.js format a model.json holds, from `format` or, in old files without it, from the topology. */
function detectFormat(json: Json, where: string): 'layers' | 'graph' {
  const topology = json.modelTopology;
  if (!isObject(topology)) {
    throw new MobileNetError(
      'E_MODEL_FORMAT',
      `${where}: expected a TF.js model.json with a modelTopology object, received ${describeValue(json)} whose modelTopology is ${describeValue(topology)}. Pass the model.json written by the TF.js converter or model.save().`,
      { file: where },
    );
  }
  const format = json.format;
  const looksGraph = Array.isArray(topology.node);
  const looksLayers = isObject(topology.model_config) || typeof topology.class_name === 'string';
  if (format === 'graph-model' || (format === undefined && looksGraph)) return 'graph';
  if (format === 'layers-model' || (format === undefined && looksLayers)) return 'layers';
  throw new MobileNetError(
    format === undefined || typeof format !== 'string' ? 'E_MODEL_FORMAT' : 'E_UNSUPPORTED_OP',
    `${where}: expected a TF.js "layers-model" (Keras topology) or "graph-model" (modelTopology.node), received format ${describeValue(format)} with modelTopology keys [${Object.keys(topology).slice(0, 6).join(', ')}]. Re-export the model with the TF.js converter.`,
    { file: where },
  );
}

/**
 * Imports a TF.js model (layers or graph format) from its parsed model.json and a shard reader.
 *
 * meta.inputRange (real = pixel * scale + offset) follows what the file says: a layers model whose first
 * layer is Rescaling takes raw pixels (1, 0); a Keras-applications MobileNet (model name like
 * "mobilenet_0.25_224") takes [-1, 1] (1/127.5, -1); other layers models (e.g. nsfwjs) and all graph
 * models (TF-Hub image modules rescale inside the graph) take [0, 1] (1/255, 0). meta.outputKind is
 * 'probabilities' when the output is a softmax (through reshapes), backgroundClass when it has 1001
 * values, and graph.embedding is the last global average pool.
 *
 * @param modelJson the parsed model.json
 * @param readShard reads one path of weightsManifest[].paths, verbatim, relative to model.json
 * @param where the model.json's path or URL, used in error messages
 * @example
 * const json = JSON.parse(await fs.promises.readFile('mobilenet/model.json', 'utf8'));
 * const graph = await importTfjs(json, (p) => fs.promises.readFile(path.join('mobilenet', p)), 'mobilenet/model.json');
 * graph.meta.format; // 'tfjs-layers'
 */
export async function importTfjs(modelJson: unknown, readShard: (relativePath: string) => Promise<Uint8Array>, where: string): Promise<Graph> {
  if (!isObject(modelJson)) {
    throw new MobileNetError(
      'E_MODEL_FORMAT',
      `${where}: expected a TF.js model.json object {modelTopology, weightsManifest}, received ${describeValue(modelJson)}. Pass the model.json of a TF.js layers or graph model.`,
      { file: where },
    );
  }
  const kind = detectFormat(modelJson, where);
  if (!Array.isArray(modelJson.weightsManifest)) {
    throw new MobileNetError(
      'E_MODEL_FORMAT',
      `${where}: expected weightsManifest to be a list of {paths, weights} groups, received ${describeValue(modelJson.weightsManifest)}. The model.json is incomplete; re-export it with its weights.`,
      { file: where },
    );
  }
  const weights = await readTfjsWeights(modelJson.weightsManifest, readShard, where);
  return kind === 'graph' ? importGraphModel(modelJson, weights, where) : importLayers(modelJson, weights, where);
}
