// Loads an optional peer package with require() so a missing one is a reason, never a crash.

/** What loading an optional package gave: the module, or why not and how to install it. */
export type Optional<T> = { module: T; reason?: undefined } | { module?: undefined; reason: string };

/**
 * Requires `moduleName`; on failure returns a one-sentence reason that ends with the install command.
 *
 * @example
 * const ort = loadOptional<OrtModule>('onnxruntime-node', 'ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save onnxruntime-node@1.30.0');
 * if (!ort.module) console.log(ort.reason);
 */
export function loadOptional<T>(moduleName: string, installCommand: string): Optional<T> {
  try {
    return { module: require(moduleName) as T };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const missing = err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(`'${moduleName}'`);
    const why = missing ? `${moduleName} is not installed` : `${moduleName} failed to load (${String(err.message).split('\n')[0]})`;
    return { reason: `${why}; to benchmark it, run: ${installCommand}` };
  }
}
