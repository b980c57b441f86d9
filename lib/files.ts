// Reading files users name, bounded: only regular files (never a device, FIFO or socket, which have no end or
// block forever), never more than a limit, and errors that say what the path really is.
import { constants, promises as fs } from 'fs';
import { httpChunks, TransferError } from './download';
import { MobileNetError } from './errors';
import { limitError, type Limits } from './limits';

/** What a path is, in words, for a message: why it cannot be read as a file. */
function kindOf(stat: import('fs').Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** An errno as words: what the user should fix. */
function errnoWords(code: string | undefined): string {
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'no permission to read it';
  if (code === 'ELOOP') return 'a symlink loop';
  if (code === 'ENOTDIR') return 'a path through something that is not a folder';
  return `error ${code ?? 'unknown'}`;
}

/**
 * The bytes of the regular file at `file`, at most `limits[key]` of them. Opened non-blocking, so a FIFO never
 * hangs the open; checked with fstat on the open handle, so what is read is what was checked.
 *
 * @example
 * const bytes = await readRegularFile('model.tflite', 'the model file', 'modelBytes', limits);
 */
export async function readRegularFile(file: string, what: string, key: keyof Limits, limits: Limits): Promise<Uint8Array> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new MobileNetError('E_IO', `Expected ${what} to be a readable file at ${file}, received ${errnoWords(code)}. Check the path and permissions.`, { path: file, errno: code });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw new MobileNetError('E_IO', `Expected ${what} to be a regular file at ${file}, received ${kindOf(stat)}. Pass the path of a file.`, { path: file });
    }
    if (stat.size > limits[key]) throw limitError(key, `${what} ${file} of ${stat.size} bytes`, limits[key]);
    const bytes = new Uint8Array(stat.size);
    let done = 0;
    while (done < stat.size) {
      const { bytesRead } = await handle.read(bytes, done, stat.size - done, done);
      if (bytesRead === 0) break; // the file shrank while we read: what is there is what we parse
      done += bytesRead;
    }
    return done === stat.size ? bytes : bytes.subarray(0, done);
  } catch (e) {
    if (e instanceof MobileNetError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new MobileNetError('E_IO', `Expected ${what} at ${file} to be readable, received ${errnoWords(code)} while reading. Check the file.`, { path: file, errno: code });
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * The body at an http(s) URL, at most `limits[key]` bytes (refused up front when Content-Length says more, cut off
 * when the stream goes past it), abandoned after `downloadIdleMs` without data or past `downloadTotalMs` in all.
 *
 * @example
 * const bytes = await fetchBounded('https://example.com/m.tflite', 'the model', 'downloadBytes', limits);
 */
export async function fetchBounded(url: string, what: string, key: keyof Limits, limits: Limits): Promise<Uint8Array> {
  const cap = limits[key];
  const deadline = Date.now() + limits.downloadTotalMs;
  const chunks: Uint8Array[] = [];
  let received = 0;
  try {
    const declared = (n: number) => {
      if (n > cap) throw limitError(key, `${what} ${url} of ${n} bytes (Content-Length)`, cap);
    };
    for await (const chunk of httpChunks(url, { idleTimeoutMs: limits.downloadIdleMs }, declared)) {
      received += chunk.length;
      if (received > cap) throw limitError(key, `${what} ${url} of more than ${cap} bytes (the stream went on)`, cap);
      if (Date.now() > deadline) throw new TransferError('network', `no complete response within ${limits.downloadTotalMs} ms (limit downloadTotalMs)`);
      chunks.push(chunk);
    }
  } catch (e) {
    if (!(e instanceof TransferError)) throw e;
    const reason = e.timedOut ? `no data for ${limits.downloadIdleMs} ms (limit downloadIdleMs)` : e.message;
    if (e.kind === 'missing' || e.kind === 'http') throw new MobileNetError('E_IO', `Expected HTTP 200 for ${what} ${url}, received ${reason}. Check the URL.`, { url, status: e.status });
    throw new MobileNetError('E_IO', `Expected to download ${what} ${url}, but the request failed (${reason}). Check the URL and your network, or download the file and pass its path.`, { url });
  }
  const bytes = new Uint8Array(received);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}
