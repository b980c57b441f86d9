// A minimal, bounds-checked FlatBuffers reader: tables, scalars, vectors and strings read from untrusted
// bytes, where every offset is checked before use so a corrupt file yields one typed error, never a RangeError.
import { MobileNetError } from '../errors';

/** Raised by the reader; importers translate it into their own message with the file and node. */
export class FlatBufferError extends MobileNetError {
  constructor(message: string) {
    super('E_MODEL_FORMAT', message);
  }
}

/**
 * A read-only view over a FlatBuffer. Offsets are absolute byte positions in `bytes`.
 * Only what a schema reader needs: no builder, no unions beyond reading the table offset.
 *
 * @example
 * const fb = new FlatBuffer(bytes);
 * const root = fb.root();                   // the root table
 * const version = fb.u32Field(root, 0, 0);  // field 0 with default 0
 */
export class FlatBuffer {
  private readonly view: DataView;
  /** Highest byte position any read has touched (exclusive): where the flatbuffer's data ends. */
  extent = 0;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.byteLength;
  }

  /** Checks that [pos, pos+size) lies inside the buffer; the single gate every read goes through. */
  need(pos: number, size: number, what: string): void {
    if (!Number.isSafeInteger(pos) || !Number.isSafeInteger(size) || pos < 0 || size < 0 || pos + size > this.bytes.byteLength) {
      throw new FlatBufferError(`${what} at byte ${pos} (+${size}) that lies outside the ${this.bytes.byteLength}-byte file`);
    }
    if (pos + size > this.extent) this.extent = pos + size;
  }

  u8(pos: number): number { this.need(pos, 1, 'a byte'); return this.view.getUint8(pos); }
  i8(pos: number): number { this.need(pos, 1, 'a byte'); return this.view.getInt8(pos); }
  u16(pos: number): number { this.need(pos, 2, 'a uint16'); return this.view.getUint16(pos, true); }
  i32(pos: number): number { this.need(pos, 4, 'an int32'); return this.view.getInt32(pos, true); }
  u32(pos: number): number { this.need(pos, 4, 'a uint32'); return this.view.getUint32(pos, true); }
  f32(pos: number): number { this.need(pos, 4, 'a float32'); return this.view.getFloat32(pos, true); }
  /** int64 as a JS number; values beyond 2^53 are rejected rather than silently rounded. */
  i64(pos: number): number {
    this.need(pos, 8, 'an int64');
    const v = this.view.getBigInt64(pos, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new FlatBufferError(`an int64 at byte ${pos} is out of the safe integer range`);
    return Number(v);
  }

  /** The root table's position (uoffset at byte 0). */
  root(): number {
    return this.indirect(0, 'the root table offset');
  }

  /** Follows a uoffset stored at `pos` (relative to `pos`). */
  indirect(pos: number, what = 'an offset'): number {
    const target = pos + this.u32(pos);
    this.need(target, 4, what);
    return target;
  }

  /** The 4-byte file identifier (bytes 4..8), e.g. "TFL3". */
  identifier(): string {
    this.need(0, 8, 'the file identifier');
    return String.fromCharCode(this.bytes[4], this.bytes[5], this.bytes[6], this.bytes[7]);
  }

  /** Position of field `index` of the table at `table`, or 0 when absent (vtable too short or zero entry). */
  field(table: number, index: number): number {
    const vtable = table - this.i32(table);
    const vtableSize = this.u16(vtable);
    this.need(vtable, vtableSize, 'a vtable');
    if (vtableSize < 4 || vtableSize % 2 !== 0) throw new FlatBufferError(`a vtable at byte ${vtable} has an invalid size ${vtableSize}`);
    const slot = 4 + 2 * index;
    if (slot + 2 > vtableSize) return 0;
    const rel = this.u16(vtable + slot);
    if (rel === 0) return 0;
    const tableSize = this.u16(vtable + 2);
    if (rel >= tableSize) throw new FlatBufferError(`field ${index} of the table at byte ${table} points past the table's ${tableSize} bytes`);
    return table + rel;
  }

  has(table: number, index: number): boolean {
    return this.field(table, index) !== 0;
  }

  u8Field(table: number, index: number, dflt: number): number { const p = this.field(table, index); return p ? this.u8(p) : dflt; }
  i8Field(table: number, index: number, dflt: number): number { const p = this.field(table, index); return p ? this.i8(p) : dflt; }
  i32Field(table: number, index: number, dflt: number): number { const p = this.field(table, index); return p ? this.i32(p) : dflt; }
  u32Field(table: number, index: number, dflt: number): number { const p = this.field(table, index); return p ? this.u32(p) : dflt; }
  f32Field(table: number, index: number, dflt: number): number { const p = this.field(table, index); return p ? this.f32(p) : dflt; }
  boolField(table: number, index: number, dflt: boolean): boolean { const p = this.field(table, index); return p ? this.u8(p) !== 0 : dflt; }

  /** Position of a sub-table referenced by field `index`, or 0 when absent. */
  tableField(table: number, index: number): number {
    const p = this.field(table, index);
    return p ? this.indirect(p, 'a table') : 0;
  }

  /** A vector field: its element start and length, checked to fit; {start: 0, length: 0} when absent. */
  vectorField(table: number, index: number, elementSize: number): { start: number; length: number } {
    const p = this.field(table, index);
    if (!p) return { start: 0, length: 0 };
    const v = p + this.u32(p);
    const length = this.u32(v);
    this.need(v + 4, length * elementSize, `a vector of ${length} x ${elementSize}-byte elements`);
    return { start: v + 4, length };
  }

  i32Vector(table: number, index: number): number[] {
    const { start, length } = this.vectorField(table, index, 4);
    const out = new Array<number>(length);
    for (let i = 0; i < length; i++) out[i] = this.i32(start + 4 * i);
    return out;
  }

  f32Vector(table: number, index: number): number[] {
    const { start, length } = this.vectorField(table, index, 4);
    const out = new Array<number>(length);
    for (let i = 0; i < length; i++) out[i] = this.f32(start + 4 * i);
    return out;
  }

  i64Vector(table: number, index: number): number[] {
    const { start, length } = this.vectorField(table, index, 8);
    const out = new Array<number>(length);
    for (let i = 0; i < length; i++) out[i] = this.i64(start + 8 * i);
    return out;
  }

  /** A [ubyte] field as a subarray (no copy), or undefined when absent. */
  bytesField(table: number, index: number): Uint8Array | undefined {
    if (!this.has(table, index)) return undefined;
    const { start, length } = this.vectorField(table, index, 1);
    return this.bytes.subarray(start, start + length);
  }

  /** Positions of the tables in a vector-of-tables field. */
  tableVector(table: number, index: number): number[] {
    const { start, length } = this.vectorField(table, index, 4);
    const out = new Array<number>(length);
    for (let i = 0; i < length; i++) out[i] = this.indirect(start + 4 * i, 'a table in a vector');
    return out;
  }

  /** A string field decoded as UTF-8, or `dflt` when absent. */
  stringField(table: number, index: number, dflt = ''): string {
    if (!this.has(table, index)) return dflt;
    const { start, length } = this.vectorField(table, index, 1);
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, length).toString('utf8');
  }
}
