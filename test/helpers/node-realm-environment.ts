// Jest environment for tests of native addons that create typed arrays (onnxruntime-node): the test
// context uses Node's own typed-array constructors, so `instanceof Float32Array` holds across the addon.
import { TestEnvironment } from 'jest-environment-node';

/** Binary-data constructors shared with the main realm; everything else stays per-test as usual. */
const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
] as const;

export default class NodeRealmEnvironment extends TestEnvironment {
  constructor(...args: ConstructorParameters<typeof TestEnvironment>) {
    super(...args);
    const context = this.global as unknown as Record<string, unknown>;
    const main = globalThis as unknown as Record<string, unknown>;
    for (const name of SHARED) context[name] = main[name];
  }
}
