/**
 * NumPy .npy files: versions 1.0, 2.0 and 3.0; dtypes '<f4', '<f8', '|u1' ('<u1'); C order.
 * Everything is returned as a float32 Tensor; writeNpy writes '<f4' version 1.0.
 */
import * as os from 'node:os';
import { EbmIoError } from '../errors';
import { checkTensor, Tensor } from '../tensor';
import { checkPath, ownsWholeBuffer, readFileChecked, writeFileAtomic } from './idx';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const littleEndianHost = os.endianness() === 'LE';
const supported = ["'<f4'", "'<f8'", "'|u1'", "'<u1'"];

type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

/** Reads a .npy file as a float32 Tensor. Throws EbmIoError naming the file and what is wrong. */
export function readNpy(path: string): Tensor {
  const buf = readFileChecked(path, 'NPY file');
  const where = `NPY file ${path}`;
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) {
    throw new EbmIoError(`${where} is not an NPY file: it does not start with the magic \\x93NUMPY`);
  }
  const major = buf[6];
  if (major < 1 || major > 3)
    throw new EbmIoError(`${where} has format version ${major}.${buf[7]}; expected 1, 2 or 3`);
  const lenBytes = major === 1 ? 2 : 4;
  if (buf.length < 8 + lenBytes) throw new EbmIoError(`${where} is truncated inside its preamble`);
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const dataStart = 8 + lenBytes + headerLen;
  if (buf.length < dataStart) {
    throw new EbmIoError(`${where} is truncated: its header claims ${headerLen} bytes but the file ends first`);
  }
  const text = buf.toString(major === 3 ? 'utf8' : 'latin1', 8 + lenBytes, dataStart);
  const { descr, fortran, shape } = parseHeader(text, where);

  if (shape.some((d) => d === 0)) throw new EbmIoError(`${where} holds an empty array (shape (${shape.join(', ')}))`);
  if (shape.length === 0) throw new EbmIoError(`${where} holds a 0-d scalar; a Tensor needs at least one dimension`);
  // Fortran order only changes the layout when two or more dimensions exceed 1.
  if (fortran && shape.filter((d) => d > 1).length > 1) {
    throw new EbmIoError(
      `${where} is stored in Fortran (column-major) order; only C order is supported ` +
        '(re-save it with np.save(path, np.ascontiguousarray(a)))',
    );
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const size = descr === '<f8' ? 8 : descr === '<f4' ? 4 : 1;
  const want = count * size;
  const have = buf.length - dataStart;
  const declared = `shape (${shape.join(', ')}) of ${descr} needs ${want} bytes`;
  if (have < want) throw new EbmIoError(`${where} is truncated: ${declared} but only ${have} bytes follow the header`);
  if (have > want) throw new EbmIoError(`${where} has a size mismatch: ${declared} but ${have} bytes follow`);
  return { data: decode(buf, dataStart, count, descr), shape };
}

/** Writes a Tensor as a '<f4' version 1.0 .npy file, atomically. */
export function writeNpy(path: string, t: Tensor): void {
  checkPath(path);
  checkTensor(t, 'writeNpy tensor');
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad with spaces so the data starts on a 64-byte boundary, as NumPy does; the header ends in '\n'.
  const preamble = 10;
  const total = Math.ceil((preamble + header.length + 1) / 64) * 64;
  header = header.padEnd(total - preamble - 1, ' ') + '\n';
  if (header.length > 0xffff) throw new EbmIoError(`writeNpy: the header for ${path} is too long for NPY 1.0`);
  const head = Buffer.alloc(preamble + header.length);
  MAGIC.forEach((b, i) => (head[i] = b));
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  head.write(header, preamble, 'latin1');
  let payload = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (!littleEndianHost) {
    const swapped = Buffer.from(payload);
    swapped.swap32();
    payload = swapped;
  }
  writeFileAtomic(path, [head, payload], 'NPY file');
}

function decode(buf: Buffer, start: number, count: number, descr: string): Float32Array {
  const offset = buf.byteOffset + start;
  if (descr === '<f4') {
    // NumPy aligns the data to 64 bytes, so the float32 values can usually be viewed in place.
    if (littleEndianHost && ownsWholeBuffer(buf) && offset % 4 === 0) {
      return new Float32Array(buf.buffer, offset, count);
    }
    const copy = new Uint8Array(4 * count);
    copy.set(buf.subarray(start, start + 4 * count));
    if (!littleEndianHost) Buffer.from(copy.buffer).swap32();
    return new Float32Array(copy.buffer);
  }
  if (descr === '<f8') {
    let src: Float64Array;
    if (littleEndianHost && offset % 8 === 0) {
      src = new Float64Array(buf.buffer, offset, count);
    } else {
      const copy = new Uint8Array(8 * count);
      copy.set(buf.subarray(start, start + 8 * count));
      if (!littleEndianHost) Buffer.from(copy.buffer).swap64();
      src = new Float64Array(copy.buffer);
    }
    return Float32Array.from(src);
  }
  return Float32Array.from(buf.subarray(start, start + count));
}

function parseHeader(text: string, where: string): { descr: string; fortran: boolean; shape: number[] } {
  let dict: PyValue;
  try {
    dict = new PyLiteralParser(text).parseAll();
  } catch (err) {
    throw new EbmIoError(`${where} has a malformed header (${(err as Error).message}): ${JSON.stringify(text.trim())}`);
  }
  const bad = (what: string) => new EbmIoError(`${where} has a malformed header: ${what}`);
  if (typeof dict !== 'object' || dict === null || Array.isArray(dict)) throw bad('it is not a dict');
  for (const key of Object.keys(dict)) {
    if (!['descr', 'fortran_order', 'shape'].includes(key)) throw bad(`unexpected key '${key}'`);
  }
  const { descr, fortran_order: fortran, shape } = dict;
  if (typeof descr !== 'string') throw bad("'descr' must be a dtype string");
  if (typeof fortran !== 'boolean') throw bad("'fortran_order' must be True or False");
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
    throw bad("'shape' must be a tuple of non-negative integers");
  }
  const normalized = descr === '<u1' ? '|u1' : descr;
  if (!['<f4', '<f8', '|u1'].includes(normalized)) {
    throw new EbmIoError(`${where} has unsupported dtype '${descr}'; supported: ${supported.join(', ')}`);
  }
  return { descr: normalized, fortran, shape: shape as number[] };
}

/** The subset of Python literal syntax NPY headers use: dicts, tuples, lists, str, int, bool, None. */
class PyLiteralParser {
  private i = 0;
  constructor(private readonly s: string) {}

  parseAll(): PyValue {
    const v = this.value();
    this.ws();
    if (this.i !== this.s.length) throw new Error(`unexpected '${this.s[this.i]}' at offset ${this.i}`);
    return v;
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  private value(): PyValue {
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.dict();
    if (c === '(' || c === '[') return this.sequence(c === '(' ? ')' : ']');
    if (c === "'" || c === '"') return this.string();
    const word = /^(True|False|None|-?\d+L?)/.exec(this.s.slice(this.i));
    if (!word) throw new Error(c === undefined ? 'unexpected end' : `unexpected '${c}' at offset ${this.i}`);
    this.i += word[0].length;
    if (word[0] === 'True') return true;
    if (word[0] === 'False') return false;
    if (word[0] === 'None') return null;
    return Number(word[0].replace('L', ''));
  }

  private string(): string {
    const quote = this.s[this.i++];
    const end = this.s.indexOf(quote, this.i);
    if (end < 0) throw new Error('unterminated string');
    const out = this.s.slice(this.i, end);
    this.i = end + 1;
    return out;
  }

  private sequence(close: string): PyValue[] {
    this.i++;
    const out: PyValue[] = [];
    for (;;) {
      this.ws();
      if (this.s[this.i] === close) {
        this.i++;
        return out;
      }
      out.push(this.value());
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== close) throw new Error(`expected ',' or '${close}' at offset ${this.i}`);
    }
  }

  private dict(): { [key: string]: PyValue } {
    this.i++;
    // No prototype: a '__proto__' key in a hostile file stays an ordinary (rejected) key.
    const out = Object.create(null) as { [key: string]: PyValue };
    for (;;) {
      this.ws();
      if (this.s[this.i] === '}') {
        this.i++;
        return out;
      }
      if (this.s[this.i] !== "'" && this.s[this.i] !== '"')
        throw new Error(`expected a string key at offset ${this.i}`);
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ':') throw new Error(`expected ':' after '${key}'`);
      this.i++;
      out[key] = this.value();
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== '}') throw new Error(`expected ',' or '}' at offset ${this.i}`);
    }
  }
}
