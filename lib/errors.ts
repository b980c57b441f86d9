// The one error type users see: a stable `code` plus a message that says expected / received / what to do.

/** Stable error codes. Programs switch on these; the message text may change. */
export type MobileNetErrorCode =
  | 'E_ARG' // a bad argument to a public function
  | 'E_MODEL_FORMAT' // a model file that cannot be parsed (truncated, corrupt, not a model)
  | 'E_UNSUPPORTED_OP' // a well-formed model using an op or option outside the kernel contract
  | 'E_IMAGE' // an image that cannot be decoded or is too large
  | 'E_INPUT' // a tensor with the wrong shape, type or non-finite values
  | 'E_NUMERIC' // an inference whose output is not finite (NaN or Infinity from the model's own numbers)
  | 'E_BACKEND' // no backend could be loaded, or a forced backend is unavailable
  | 'E_NATIVE' // the native addon failed
  | 'E_IO' // a file or URL that cannot be read
  | 'E_DOWNLOAD' // a registry download failed or its hash did not match
  | 'E_LIMIT' // an input over a resource limit (file size, download size or time); the message names the option
  | 'E_DISPOSED'; // a model used after dispose()

/**
 * The error every public function throws or rejects with.
 *
 * @example
 * try { await load('missing.tflite'); }
 * catch (e) { if (e instanceof MobileNetError && e.code === 'E_IO') console.error(e.message); }
 */
export class MobileNetError extends Error {
  readonly code: MobileNetErrorCode;
  /** Extra machine-readable context (file, node, attempts...). */
  readonly details?: Record<string, unknown>;

  constructor(code: MobileNetErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'MobileNetError';
    this.code = code;
    if (details) this.details = details;
  }
}

/** Throws a MobileNetError with the house message format: what was expected, what came, what to do. */
export function fail(
  code: MobileNetErrorCode,
  expected: string,
  received: string,
  todo: string,
  details?: Record<string, unknown>,
): never {
  throw new MobileNetError(code, `Expected ${expected}, received ${received}. ${todo}`, details);
}

/** Short, safe description of any value for error messages. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return v.length > 60 ? `a string of ${v.length} characters` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of ${v.byteLength} bytes`;
  if (v instanceof ArrayBuffer) return `an ArrayBuffer of ${v.byteLength} bytes`;
  if (typeof v === 'function') return 'a function';
  return `an object with keys [${Object.keys(v as object).slice(0, 6).join(', ')}]`;
}
