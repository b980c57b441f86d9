// Verified file transfer for the model registry: streams an http(s) URL, file:// URL or local path into a temp
// file beside the destination, hashing as it goes, and renames it into place only when size and sha256 match.
import { createHash, randomBytes } from 'crypto';
import { createReadStream, promises as fs } from 'fs';
import * as path from 'path';
import { fileURLToPath } from 'url';

/** What a transferred file must be. */
export interface ExpectedFile {
  sha256: string;
  bytes: number;
}

export interface TransferOptions {
  /** Called as bytes arrive (received so far, expected total). */
  onProgress?: (received: number, total: number) => void;
  /** Abort an http(s) transfer after this many milliseconds without data; default 30000 or $MOBILENET_DOWNLOAD_TIMEOUT_MS. */
  idleTimeoutMs?: number;
}

/** Why a transfer failed, in words the registry puts into its E_DOWNLOAD message. */
export type TransferFailureKind = 'network' | 'http' | 'missing' | 'mismatch' | 'io';

/**
 * A transfer failure; the registry turns it into a MobileNetError that says what to do.
 *
 * @example
 * try { await transferVerified(url, dest, expected); } catch (e) { if (e instanceof TransferError && e.kind === 'mismatch') retry(); }
 */
export class TransferError extends Error {
  constructor(
    readonly kind: TransferFailureKind,
    message: string,
    readonly status?: number,
    /** The idle timeout fired (no data for the allowed time), as opposed to a refused or broken connection. */
    readonly timedOut = false,
  ) {
    super(message);
    this.name = 'TransferError';
  }
}

/**
 * True for http:// and https:// sources, which go through fetch; anything else is a file.
 *
 * @example
 * isHttpUrl('https://example.com/m.tflite'); // true
 */
export function isHttpUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/**
 * A file:// URL or plain path as a filesystem path.
 *
 * @example
 * toFilePath('file:///srv/mirror'); // '/srv/mirror'
 */
export function toFilePath(source: string): string {
  return /^file:\/\//i.test(source) ? fileURLToPath(source) : source;
}

/**
 * The sha256 (hex) and size of a file, streamed so a large file never sits in memory twice.
 *
 * @example
 * const { sha256, bytes } = await hashFile('model.tflite');
 */
export async function hashFile(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

function idleTimeout(options: TransferOptions): number {
  if (options.idleTimeoutMs !== undefined) return options.idleTimeoutMs;
  const env = Number(process.env.MOBILENET_DOWNLOAD_TIMEOUT_MS);
  return Number.isFinite(env) && env > 0 ? env : 30000;
}

/** Node's fetch hides the socket error (ECONNREFUSED, ENOTFOUND...) in `cause`; that is the useful part. */
function networkReason(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const cause = err.cause;
  if (cause && (cause.code || cause.message)) return [cause.code, cause.message].filter(Boolean).join(': ');
  return err.message;
}

/**
 * The body of an http(s) URL as chunks, abandoned after the idle timeout without data; `total` hears the
 * Content-Length first. Stopping the iteration early aborts the request, so an endless body stops flowing.
 *
 * @example
 * for await (const chunk of httpChunks(url, { idleTimeoutMs: 5000 }, (n) => console.log('length', n))) use(chunk);
 */
export async function* httpChunks(url: string, options: TransferOptions, total: (n: number) => void): AsyncGenerator<Uint8Array> {
  const controller = new AbortController();
  const limit = idleTimeout(options);
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new Error(`no data for ${limit} ms`)), limit);
  };
  arm();
  try {
    let res: Response;
    try {
      res = await fetch(url, { signal: controller.signal, redirect: 'follow' });
    } catch (e) {
      throw new TransferError('network', controller.signal.aborted ? `timed out (no data for ${limit} ms)` : networkReason(e), undefined, controller.signal.aborted);
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new TransferError(res.status === 404 ? 'missing' : 'http', `HTTP ${res.status} ${res.statusText}`.trim(), res.status);
    }
    const length = Number(res.headers.get('content-length'));
    if (Number.isFinite(length) && length > 0) total(length);
    if (!res.body) return;
    const reader = res.body.getReader();
    for (;;) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (e) {
        throw new TransferError('network', controller.signal.aborted ? `timed out (no data for ${limit} ms)` : `connection lost (${networkReason(e)})`, undefined, controller.signal.aborted);
      }
      if (step.done) return;
      arm();
      yield step.value;
    }
  } finally {
    if (timer) clearTimeout(timer);
    controller.abort(); // a consumer that stopped early (limit, mismatch) must not leave the body streaming
  }
}

async function* fileChunks(file: string): AsyncGenerator<Uint8Array> {
  const stream = createReadStream(file);
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new TransferError('missing', `no such file ${file}`);
    if (err.code === 'EISDIR') throw new TransferError('missing', `${file} is a directory`);
    throw new TransferError('io', `cannot read ${file} (${err.code ?? err.message})`);
  } finally {
    stream.destroy();
  }
}

/**
 * Copies `source` (http(s) URL, file:// URL or local path) to `dest`, verifying size and sha256 before the
 * file appears at `dest`; on any failure nothing is left behind and a TransferError says why.
 *
 * @example
 * await transferVerified('https://example.com/m.tflite', '/tmp/cache/m.tflite', { sha256: 'ab…', bytes: 1234 });
 */
export async function transferVerified(source: string, dest: string, expected: ExpectedFile, options: TransferOptions = {}): Promise<void> {
  try {
    await fs.mkdir(path.dirname(dest), { recursive: true });
  } catch (e) {
    throw new TransferError('io', `cannot create the folder ${path.dirname(dest)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  // A unique temp name in the same folder: rename is then atomic, and two processes never share a half file.
  const temp = path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
  let total = expected.bytes;
  const hash = createHash('sha256');
  let received = 0;
  let handle: fs.FileHandle | undefined;
  try {
    try {
      handle = await fs.open(temp, 'w');
    } catch (e) {
      throw new TransferError('io', `cannot write ${temp} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const chunks = isHttpUrl(source) ? httpChunks(source, options, (n) => (total = n)) : fileChunks(toFilePath(source));
    options.onProgress?.(0, total);
    for await (const chunk of chunks) {
      received += chunk.length;
      // A server that sends more than the file's size is wrong already; stop before it fills the disk.
      if (received > expected.bytes) {
        throw new TransferError('mismatch', `more than the expected ${expected.bytes} bytes`);
      }
      hash.update(chunk);
      await handle.write(chunk);
      options.onProgress?.(received, total);
    }
    await handle.close();
    handle = undefined;
    const sha256 = hash.digest('hex');
    if (received !== expected.bytes || sha256 !== expected.sha256.toLowerCase()) {
      throw new TransferError('mismatch', `${received} bytes with sha256 ${sha256}`);
    }
    await fs.rename(temp, dest);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await fs.rm(temp, { force: true }).catch(() => undefined);
    if (e instanceof TransferError) throw e;
    throw new TransferError('io', (e as Error).message);
  }
}
