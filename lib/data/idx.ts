/**
 * IDX files (the MNIST / Fashion-MNIST container): magic 00 00 <dtype> <ndim>, ndim big-endian
 * uint32 dimensions, then the values big-endian and row-major. Gzip'd files are detected by
 * their magic bytes, not their extension.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { gunzipSync, gzipSync } from 'node:zlib';
import { EbmConfigError, EbmIoError, EbmShapeError } from '../errors';
import { writeFileAtomic } from '../fsutil';
import { describeValue, optionalBoolean, rejectUnknownKeys, requireObject } from '../validate';

export { writeFileAtomic };

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxArray = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** What readIdx returns; `dtype` tells which typed array `data` is. */
export type IdxData =
  | { dtype: 'uint8'; data: Uint8Array; shape: number[] }
  | { dtype: 'int8'; data: Int8Array; shape: number[] }
  | { dtype: 'int16'; data: Int16Array; shape: number[] }
  | { dtype: 'int32'; data: Int32Array; shape: number[] }
  | { dtype: 'float32'; data: Float32Array; shape: number[] }
  | { dtype: 'float64'; data: Float64Array; shape: number[] };

/** The most dimensions readIdx/writeIdx accept (the format allows 255; nothing real needs that). */
export const IDX_MAX_DIMS = 16;

interface DtypeInfo {
  name: IdxDtype;
  code: number;
  size: 1 | 2 | 4 | 8;
}

const dtypes: readonly DtypeInfo[] = [
  { name: 'uint8', code: 0x08, size: 1 },
  { name: 'int8', code: 0x09, size: 1 },
  { name: 'int16', code: 0x0b, size: 2 },
  { name: 'int32', code: 0x0c, size: 4 },
  { name: 'float32', code: 0x0d, size: 4 },
  { name: 'float64', code: 0x0e, size: 8 },
];

const littleEndianHost = os.endianness() === 'LE';

/** Reads an IDX file (plain or gzip'd). Throws EbmIoError naming the file and what is wrong. */
export function readIdx(path: string): IdxData {
  const raw = readFileChecked(path, 'IDX file');
  const buf = maybeGunzip(raw, path, 'IDX file');
  const where = `IDX file ${path}`;
  if (buf.length < 4) throw new EbmIoError(`${where} is truncated: ${buf.length} bytes, shorter than the 4-byte magic`);
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw new EbmIoError(`${where} has a bad magic number ${hex(buf.subarray(0, 4))}; expected 00 00 <dtype> <ndim>`);
  }
  const info = dtypes.find((d) => d.code === buf[2]);
  if (!info) {
    throw new EbmIoError(
      `${where} has unknown dtype code 0x${buf[2].toString(16).padStart(2, '0')}; ` +
        `expected one of ${dtypes.map((d) => `0x${d.code.toString(16).padStart(2, '0')} (${d.name})`).join(', ')}`,
    );
  }
  const ndim = buf[3];
  if (ndim < 1 || ndim > IDX_MAX_DIMS) {
    throw new EbmIoError(`${where} declares ${ndim} dimensions; expected 1 to ${IDX_MAX_DIMS}`);
  }
  const headerBytes = 4 + 4 * ndim;
  if (buf.length < headerBytes) {
    throw new EbmIoError(`${where} is truncated inside its header: ${ndim} dimensions need ${headerBytes} bytes`);
  }
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    const d = buf.readUInt32BE(4 + 4 * i);
    shape.push(d);
    count *= d;
  }
  const want = count * info.size;
  const have = buf.length - headerBytes;
  const declared = `the header declares [${shape.join(', ')}] ${info.name} values (${want} bytes)`;
  if (have < want) throw new EbmIoError(`${where} is truncated: ${declared} but only ${have} bytes follow`);
  if (have > want) throw new EbmIoError(`${where} has a size mismatch: ${declared} but ${have} bytes follow`);
  return { dtype: info.name, data: decode(buf, headerBytes, count, info), shape } as IdxData;
}

/**
 * Writes `data` (its typed-array type picks the IDX dtype) with the given shape, atomically.
 * Gzips when `options.gzip` is true, or by default when the path ends in `.gz`.
 */
export function writeIdx(
  path: string,
  data: IdxArray,
  shape: readonly number[],
  options: { gzip?: boolean } = {},
): void {
  checkPath(path);
  const info = dtypeOf(data);
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > IDX_MAX_DIMS) {
    throw new EbmShapeError(`writeIdx: shape must have 1 to ${IDX_MAX_DIMS} dimensions, got ${describeValue(shape)}`);
  }
  let count = 1;
  shape.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) {
      throw new EbmShapeError(`writeIdx: shape[${i}] must be an integer in [0, 2^32), got ${describeValue(d)}`);
    }
    count *= d;
  });
  if (count !== data.length) {
    throw new EbmShapeError(`writeIdx: data has ${data.length} values but shape [${shape.join(', ')}] needs ${count}`);
  }
  const header = Buffer.alloc(4 + 4 * shape.length);
  header[2] = info.code;
  header[3] = shape.length;
  shape.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  let payload = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (info.size > 1 && littleEndianHost) {
    // IDX is big-endian: swap a copy, never the caller's array.
    const swapped = Buffer.from(payload);
    swapBytes(swapped, info.size);
    payload = swapped;
  }
  const o = requireObject(options, 'writeIdx options');
  rejectUnknownKeys(o, ['gzip'], 'writeIdx options');
  optionalBoolean(o, 'gzip', 'writeIdx options');
  const gzip = options.gzip ?? path.endsWith('.gz');
  writeFileAtomic(path, gzip ? [gzipSync(Buffer.concat([header, payload]))] : [header, payload], 'IDX file');
}

function dtypeOf(data: IdxArray): DtypeInfo {
  const name: IdxDtype | undefined =
    data instanceof Uint8Array
      ? 'uint8'
      : data instanceof Int8Array
        ? 'int8'
        : data instanceof Int16Array
          ? 'int16'
          : data instanceof Int32Array
            ? 'int32'
            : data instanceof Float32Array
              ? 'float32'
              : data instanceof Float64Array
                ? 'float64'
                : undefined;
  const info = dtypes.find((d) => d.name === name);
  if (!info) {
    throw new EbmConfigError(
      'writeIdx: data must be a Uint8Array, Int8Array, Int16Array, Int32Array, Float32Array or Float64Array',
    );
  }
  return info;
}

function decode(buf: Buffer, offset: number, count: number, info: DtypeInfo): IdxArray {
  const bytes = info.size * count;
  if (info.size === 1) {
    // View the bytes in place unless the Buffer is a slice of Node's shared pool (small files).
    const src = ownsWholeBuffer(buf)
      ? buf.buffer
      : buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + offset + bytes);
    const start = ownsWholeBuffer(buf) ? offset : 0;
    return info.name === 'uint8' ? new Uint8Array(src, start, count) : new Int8Array(src, start, count);
  }
  // Multi-byte values must be byte-swapped on little-endian hosts, so one aligned copy is needed anyway.
  const copy = new Uint8Array(bytes);
  copy.set(buf.subarray(offset, offset + bytes));
  if (littleEndianHost) swapBytes(Buffer.from(copy.buffer, 0, bytes), info.size);
  switch (info.name) {
    case 'int16':
      return new Int16Array(copy.buffer);
    case 'int32':
      return new Int32Array(copy.buffer);
    case 'float32':
      return new Float32Array(copy.buffer);
    default:
      return new Float64Array(copy.buffer);
  }
}

function swapBytes(b: Buffer, size: number): void {
  if (size === 2) b.swap16();
  else if (size === 4) b.swap32();
  else if (size === 8) b.swap64();
}

function hex(b: Uint8Array): string {
  return Array.from(b, (v) => v.toString(16).padStart(2, '0')).join(' ');
}

// ---- file helpers shared by the data readers and writers (not part of the public API) ----

/** @internal True when `buf` spans its whole ArrayBuffer, so a view keeps nothing else alive. */
export function ownsWholeBuffer(buf: Uint8Array): boolean {
  return buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength;
}

/** @internal */
export function checkPath(path: unknown): asserts path is string {
  if (typeof path !== 'string' || path.length === 0) {
    throw new EbmConfigError(`path must be a non-empty string, got ${describeValue(path)}`);
  }
}

/** A file-system failure as an EbmIoError naming `what` and the path. */
function ioError(err: unknown, path: string, what: string): EbmIoError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new EbmIoError(`${what} ${path} does not exist`);
  if (code === 'EISDIR') return new EbmIoError(`${what} ${path} is a directory, not a file`);
  return new EbmIoError(`cannot read ${what} ${path}: ${(err as Error).message}`);
}

/** @internal Opens a file for reading; failures are EbmIoErrors that name it. */
export function openChecked(path: string, what: string): number {
  checkPath(path);
  try {
    return fs.openSync(path, 'r');
  } catch (err) {
    throw ioError(err, path, what);
  }
}

/** @internal Reads the next bytes of an open file into buf; 0 at the end. */
export function readChecked(fd: number, buf: Buffer, path: string, what: string): number {
  try {
    return fs.readSync(fd, buf, 0, buf.length, null);
  } catch (err) {
    throw ioError(err, path, what);
  }
}

/** @internal Reads a whole file; failures become EbmIoError naming `what` and the path. */
export function readFileChecked(path: string, what: string): Buffer {
  checkPath(path);
  try {
    return fs.readFileSync(path);
  } catch (err) {
    throw ioError(err, path, what);
  }
}

/** @internal Decompresses when the bytes start with the gzip magic 1f 8b. */
export function maybeGunzip(buf: Buffer, path: string, what: string): Buffer {
  if (buf.length < 2 || buf[0] !== 0x1f || buf[1] !== 0x8b) return buf;
  try {
    return gunzipSync(buf);
  } catch (err) {
    throw new EbmIoError(`${what} ${path} is gzip'd but cannot be decompressed (truncated or corrupt): ${msg(err)}`);
  }
}

/**
 * @internal Writes the chunks to a temporary file in the target's directory, flushes it, then
 * renames it over the target, so readers never see a half-written file.
 */

function msg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
