/**
 * Just enough protobuf (proto2 wire format) to read CRIU's images: varints and skipping of
 * unknown fields. Errors are thrown as ProtobufError with the byte offset; callers turn them
 * into a FerryError that names the file.
 */

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

export class ProtobufError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'ProtobufError';
  }
}

export interface FieldHeader {
  field: number;
  wireType: number;
  /** Offset of the tag's first byte, for messages. */
  at: number;
}

export class ProtoReader {
  pos: number;
  readonly end: number;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint of up to 64 bits (at most 10 bytes), as a bigint so nothing is rounded. */
  varint(): bigint {
    const start = this.pos;
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufError('malformed varint: runs past the end of the message', start);
      const b = this.buf[this.pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        if (i === 9 && b > 1) throw new ProtobufError('malformed varint: more than 64 bits', start);
        return result;
      }
      shift += 7n;
    }
    throw new ProtobufError('malformed varint: longer than 10 bytes', start);
  }

  /** A uint32 field: protobuf keeps the low 32 bits of whatever varint was written. */
  uint32(): number {
    return Number(this.varint() & 0xffffffffn);
  }

  /** A uint64 field as a number; refuses values a JS number cannot hold exactly. */
  uint64(): number {
    const at = this.pos;
    const v = this.varint();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtobufError(`value ${v} is too large to hold exactly`, at);
    return Number(v);
  }

  bool(): boolean {
    return this.varint() !== 0n;
  }

  tag(): FieldHeader {
    const at = this.pos;
    const key = this.varint();
    const field = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (field === 0) throw new ProtobufError('field number 0 is not valid', at);
    return { field, wireType, at };
  }

  /** The bounds of a length-delimited field's payload; moves past it. */
  lengthDelimited(): { start: number; end: number } {
    const at = this.pos;
    const len = this.varint();
    if (len > BigInt(this.end - this.pos)) {
      throw new ProtobufError(`length-delimited field of ${len} bytes runs past the end of the message`, at);
    }
    const start = this.pos;
    this.pos += Number(len);
    return { start, end: this.pos };
  }

  /** Skip a field we do not know, by its wire type. Groups (3, 4) are not used by CRIU's protos. */
  skip(h: FieldHeader): void {
    switch (h.wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.advance(8, h);
        return;
      case WIRE_LEN:
        this.lengthDelimited();
        return;
      case WIRE_FIXED32:
        this.advance(4, h);
        return;
      default:
        throw new ProtobufError(`field ${h.field} has wire type ${h.wireType}, which is not valid here`, h.at);
    }
  }

  private advance(n: number, h: FieldHeader): void {
    if (this.end - this.pos < n) throw new ProtobufError(`field ${h.field} (${n} bytes) runs past the end of the message`, h.at);
    this.pos += n;
  }
}

export function wireTypeName(w: number): string {
  return ['varint', '64-bit', 'length-delimited', 'start-group', 'end-group', '32-bit'][w] ?? `unknown (${w})`;
}
