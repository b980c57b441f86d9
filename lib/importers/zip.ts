// A small, bounds-checked zip reader for the archive TFLite metadata tools append to a model (coral files
// carry their labels that way). Stored and deflated entries only; every size, offset and CRC is checked.
import { inflateRawSync } from 'zlib';
import { MobileNetError } from '../errors';

/** One file in the archive, already decompressed and CRC-checked. */
export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
/** Labels files are tens of kilobytes; anything far larger is a corrupt size field, not a real label list. */
const MAX_ENTRY_BYTES = 64 << 20;

let crcTable: Uint32Array | undefined;
function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** True when `bytes` ends with a zip end-of-central-directory record (possibly followed by a comment). */
export function hasZipTrailer(bytes: Uint8Array): boolean {
  return findEndRecord(bytes) >= 0;
}

function findEndRecord(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // the record is 22 bytes plus a comment of at most 65535 bytes, so only the tail needs a scan
  const lowest = Math.max(0, bytes.byteLength - EOCD_SIZE - 0xffff);
  for (let p = bytes.byteLength - EOCD_SIZE; p >= lowest; p--) {
    if (view.getUint32(p, true) === EOCD_SIGNATURE && p + EOCD_SIZE + view.getUint16(p + 20, true) === bytes.byteLength) return p;
  }
  return -1;
}

/**
 * Reads every entry of a zip archive found at the end of `bytes` (data may precede the archive, as in a
 * TFLite file with appended metadata). Throws MobileNetError E_MODEL_FORMAT naming `where` on any damage.
 *
 * @example
 * const entries = readZip(fileBytes, 'model.tflite');
 * const labels = entries.find((e) => e.name.endsWith('.txt'));
 */
export function readZip(bytes: Uint8Array, where: string): ZipEntry[] {
  const bad = (what: string): never => {
    throw new MobileNetError(
      'E_MODEL_FORMAT',
      `${where}: expected a readable zip archive appended to the model (TFLite metadata, e.g. labels), received ${what}. The file is truncated or corrupt; download it again.`,
      { file: where },
    );
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const inside = (pos: number, size: number) => Number.isSafeInteger(pos) && pos >= 0 && size >= 0 && pos + size <= bytes.byteLength;
  const eocd = findEndRecord(bytes);
  if (eocd < 0) return bad('no end-of-central-directory record');
  const count = view.getUint16(eocd + 10, true);
  const dirSize = view.getUint32(eocd + 12, true);
  const dirOffset = view.getUint32(eocd + 16, true);
  // archives appended to other data may store offsets relative to the archive start, as Python's zipfile reads them
  const shift = eocd - dirSize - dirOffset;
  if (shift < 0 || !inside(dirOffset + shift, dirSize)) bad(`a central directory (${dirSize} bytes at ${dirOffset}) outside the file`);
  const entries: ZipEntry[] = [];
  let p = dirOffset + shift;
  for (let i = 0; i < count; i++) {
    if (!inside(p, CENTRAL_SIZE) || view.getUint32(p, true) !== CENTRAL_SIGNATURE) bad(`a damaged central directory entry ${i} at byte ${p}`);
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    const packedSize = view.getUint32(p + 20, true);
    const size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    const localOffset = view.getUint32(p + 42, true) + shift;
    if (!inside(p + CENTRAL_SIZE, nameLen)) bad(`an entry name past the end of the file`);
    const name = Buffer.from(bytes.buffer, bytes.byteOffset + p + CENTRAL_SIZE, nameLen).toString('utf8');
    if (flags & 1) bad(`an encrypted entry "${name}"`);
    if (size > MAX_ENTRY_BYTES) bad(`an entry "${name}" claiming ${size} bytes`);
    if (!inside(localOffset, LOCAL_SIZE) || view.getUint32(localOffset, true) !== LOCAL_SIGNATURE) bad(`a missing local header for "${name}"`);
    const dataStart = localOffset + LOCAL_SIZE + view.getUint16(localOffset + 26, true) + view.getUint16(localOffset + 28, true);
    if (!inside(dataStart, packedSize)) bad(`entry "${name}" data (${packedSize} bytes at ${dataStart}) past the end of the file`);
    const packed = bytes.subarray(dataStart, dataStart + packedSize);
    let data: Uint8Array;
    if (method === 0) data = packed;
    else if (method === 8) {
      try {
        data = new Uint8Array(inflateRawSync(packed, { maxOutputLength: Math.max(size, 1) }));
      } catch (e) {
        return bad(`entry "${name}" whose deflate stream does not decode (${(e as Error).message})`);
      }
    } else return bad(`entry "${name}" with compression method ${method} (only stored and deflate are read)`);
    if (data.length !== size || crc32(data) !== crc) bad(`entry "${name}" whose size or CRC does not match its header`);
    entries.push({ name, data });
    p += CENTRAL_SIZE + nameLen + extraLen + commentLen;
  }
  return entries;
}
