// What the browser bundle gets in place of Node built-ins that shared modules import but the browser path
// never needs (fs/path in the wasm file loader, zlib for deflated label archives), plus a tiny Buffer.
// scripts/build-browser.js aliases the built-ins here and injects `Buffer`; nothing imports this file directly.

/** Deflated zip entries need Node's zlib; the zip reader turns this into an E_MODEL_FORMAT naming the entry. */
export function inflateRawSync(): never {
  throw new Error('deflate-compressed entries are not read in the browser build (stored entries are); pass labels with the `labels` option');
}

/**
 * The Buffer uses on the browser path: UTF-8 text out of byte ranges (flatbuffer strings, label files, zip
 * entry names) and base64 strings (TF.js graph attributes).
 *
 * @example
 * Buffer.from(bytes.buffer, 0, 4).toString('utf8');
 * Buffer.from('aGk=', 'base64').toString('utf8'); // 'hi'
 */
export const Buffer = {
  from(source: ArrayBufferLike | string, offsetOrEncoding?: number | string, length?: number) {
    let view: Uint8Array;
    if (typeof source === 'string') {
      if (offsetOrEncoding !== 'base64') throw new Error(`the browser Buffer shim decodes base64 strings only, not ${String(offsetOrEncoding)}`);
      const binary = atob(source);
      view = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i++) view[i] = binary.charCodeAt(i);
    } else {
      const offset = typeof offsetOrEncoding === 'number' ? offsetOrEncoding : 0;
      view = new Uint8Array(source, offset, length ?? source.byteLength - offset);
    }
    return { toString: (_encoding?: string) => new TextDecoder().decode(view) };
  },
};
