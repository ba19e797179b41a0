/**
 * Numeric CSV to and from [rows, cols] float32 tensors. Fields may be double-quoted (RFC 4180
 * style, but a quoted field cannot span lines). Line and column numbers in errors are 1-based.
 */
import * as fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { EbmConfigError, EbmIoError, EbmShapeError } from '../errors';
import { checkTensor, Tensor } from '../tensor';
import { describeValue, Obj, rejectUnknownKeys, requireObject } from '../validate';
import { checkPath, openChecked, readChecked, writeFileAtomic } from './idx';

export interface CsvReadOptions {
  /** true: the first non-blank line is a header; 'auto' (default): it is one if a field is non-numeric */
  header?: boolean | 'auto';
  /** field separator (default ',') */
  delimiter?: string;
  /** 0-based columns to keep, in this order (default: all); only these must be numeric */
  columns?: number[];
}

export interface CsvWriteOptions {
  /** column names, one per column */
  header?: string[];
  /** field separator (default ',') */
  delimiter?: string;
}

/** A CSV file's numbers and, when it had one, its header (restricted to the selected columns). */
export interface CsvTable {
  tensor: Tensor;
  header: string[] | null;
}

const numberPattern = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
// What NumPy and pandas write for non-finite values (matched case-insensitively).
const specialNumbers = new Map<string, number>([
  ['nan', NaN],
  ['+nan', NaN],
  ['-nan', NaN],
  ['inf', Infinity],
  ['+inf', Infinity],
  ['-inf', -Infinity],
  ['infinity', Infinity],
  ['+infinity', Infinity],
  ['-infinity', -Infinity],
]);

/**
 * The lines of a UTF-8 text file, read in 4 MiB chunks: neither the whole file nor an array of
 * all its lines is ever held, only the rows parsed so far.
 */
function* linesOf(path: string, what: string): Generator<string> {
  const fd = openChecked(path, what);
  const chunk = Buffer.allocUnsafe(1 << 22);
  const decoder = new StringDecoder('utf8');
  let pending: string[] = []; // the start of a line that spans chunks
  try {
    for (;;) {
      const n = readChecked(fd, chunk, path, what);
      const text = n > 0 ? decoder.write(chunk.subarray(0, n)) : decoder.end();
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        const piece = text.slice(start, nl);
        yield pending.length > 0 ? pending.join('') + piece : piece;
        pending = [];
        start = nl + 1;
      }
      if (start < text.length) pending.push(text.slice(start));
      if (n === 0) break;
    }
    if (pending.length > 0) yield pending.join('');
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a numeric CSV file as a [rows, cols] float32 tensor. */
export function readCsv(path: string, options: CsvReadOptions = {}): Tensor {
  return readCsvTable(path, options).tensor;
}

/** Like readCsv, but also returns the header names. */
export function readCsvTable(path: string, options: CsvReadOptions = {}): CsvTable {
  checkPath(path);
  const opts = checkReadOptions(options);
  const where = `CSV file ${path}`;

  let width = -1;
  let widthLine = 0;
  let selected: number[] = [];
  let header: string[] | null = null;
  let values = new Float32Array(1024);
  let used = 0;
  let rowCount = 0;
  let lineNo = 0;
  for (const raw of linesOf(path, 'CSV file')) {
    lineNo++;
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.trim() === '') continue;
    const fields = splitLine(line, opts.delimiter, `${where} line ${lineNo}`);
    if (width < 0) {
      width = fields.length;
      widthLine = lineNo;
      selected = opts.columns ?? fields.map((_, i) => i);
      selected.forEach((c, i) => {
        if (c >= width) {
          throw new EbmConfigError(
            `readCsv options.columns[${i}] is ${c} but ${where} has ${width} columns (0-based indices)`,
          );
        }
      });
      const isHeader =
        opts.header === 'auto' ? selected.some((c) => parseNumber(fields[c]) === undefined) : opts.header;
      if (isHeader) {
        header = selected.map((c) => fields[c].trim());
        continue;
      }
    } else if (fields.length !== width) {
      throw new EbmIoError(
        `${where} line ${lineNo} has ${fields.length} fields but line ${widthLine} has ${width} (ragged rows)`,
      );
    }
    if (used + selected.length > values.length) {
      const grown = new Float32Array(Math.max(2 * values.length, used + selected.length));
      grown.set(values);
      values = grown;
    }
    for (const c of selected) {
      const v = parseNumber(fields[c]);
      if (v === undefined) {
        const name = header ? ` (${JSON.stringify(header[selected.indexOf(c)])})` : '';
        throw new EbmIoError(
          `${where} line ${lineNo}, column ${c + 1}${name}: ${JSON.stringify(fields[c].trim())} is not a number`,
        );
      }
      values[used++] = v;
    }
    rowCount++;
  }
  if (rowCount === 0) throw new EbmIoError(`${where} has no data rows`);
  return { tensor: { data: values.slice(0, used), shape: [rowCount, selected.length] }, header };
}

/** Writes a [rows, cols] tensor as CSV, atomically; each value in the shortest form that reads back exactly. */
export function writeCsv(path: string, t: Tensor, options: CsvWriteOptions = {}): void {
  checkPath(path);
  checkTensor(t, 'writeCsv tensor');
  if (t.shape.length !== 2) {
    throw new EbmShapeError(`writeCsv needs a 2D tensor [rows, cols], got shape [${t.shape.join(', ')}]`);
  }
  const o = requireObject(options, 'writeCsv options');
  rejectUnknownKeys(o, ['header', 'delimiter'], 'writeCsv options');
  const delimiter = checkDelimiter(o.delimiter, 'writeCsv options.delimiter');
  const [n, d] = t.shape;
  const out: string[] = [];
  if (options.header !== undefined) {
    const h = options.header;
    if (!Array.isArray(h) || h.length !== d || !h.every((s) => typeof s === 'string' && !/[\r\n]/.test(s))) {
      throw new EbmConfigError(
        `writeCsv options.header must be an array of ${d} strings (one per column) without newlines`,
      );
    }
    out.push(h.map((s) => quoteField(s, delimiter)).join(delimiter));
  }
  for (let i = 0; i < n; i++) {
    const cells = new Array<string>(d);
    for (let j = 0; j < d; j++) cells[j] = formatFloat32(t.data[i * d + j]);
    out.push(cells.join(delimiter));
  }
  writeFileAtomic(path, [Buffer.from(out.join('\n') + '\n', 'utf8')], 'CSV file');
}

function checkReadOptions(options: CsvReadOptions): Required<Omit<CsvReadOptions, 'columns'>> & {
  columns: number[] | undefined;
} {
  const o: Obj = requireObject(options, 'readCsv options');
  rejectUnknownKeys(o, ['header', 'delimiter', 'columns'], 'readCsv options');
  const header = o.header === undefined ? 'auto' : o.header;
  if (header !== true && header !== false && header !== 'auto') {
    throw new EbmConfigError(`readCsv options.header must be true, false or 'auto', got ${describeValue(header)}`);
  }
  const delimiter = checkDelimiter(o.delimiter, 'readCsv options.delimiter');
  let columns: number[] | undefined;
  if (o.columns !== undefined) {
    if (!Array.isArray(o.columns) || o.columns.length === 0) {
      throw new EbmConfigError('readCsv options.columns must be a non-empty array of column indices');
    }
    columns = o.columns.map((c: unknown, i) => {
      if (typeof c !== 'number' || !Number.isInteger(c) || c < 0) {
        throw new EbmConfigError(
          `readCsv options.columns[${i}] must be a non-negative integer, got ${describeValue(c)}`,
        );
      }
      return c;
    });
  }
  return { header, delimiter, columns };
}

function checkDelimiter(value: unknown, path: string): string {
  if (value === undefined) return ',';
  if (typeof value !== 'string' || value.length === 0 || /["\r\n]/.test(value)) {
    throw new EbmConfigError(
      `${path} must be a non-empty string without quotes or newlines, got ${describeValue(value)}`,
    );
  }
  return value;
}

/** Splits one line into fields; double-quoted fields may contain the delimiter and "" for a quote. */
function splitLine(line: string, delimiter: string, where: string): string[] {
  if (!line.includes('"')) return line.split(delimiter);
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let start = i;
    while (line[start] === ' ' || line[start] === '\t') start++;
    if (line[start] === '"') {
      let field = '';
      let j = start + 1;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q < 0) throw new EbmIoError(`${where}: unterminated quoted field`);
        field += line.slice(j, q);
        if (line[q + 1] === '"') {
          field += '"';
          j = q + 2;
        } else {
          j = q + 1;
          break;
        }
      }
      while (line[j] === ' ' || line[j] === '\t') j++;
      fields.push(field);
      if (j >= line.length) return fields;
      if (!line.startsWith(delimiter, j)) throw new EbmIoError(`${where}: text after a closing quote`);
      i = j + delimiter.length;
    } else {
      const end = line.indexOf(delimiter, i);
      if (end < 0) {
        fields.push(line.slice(i));
        return fields;
      }
      fields.push(line.slice(i, end));
      i = end + delimiter.length;
    }
  }
}

function parseNumber(field: string): number | undefined {
  const s = field.trim();
  if (numberPattern.test(s)) return Number(s);
  return specialNumbers.get(s.toLowerCase());
}

/** The shortest decimal that parses back to the same float32. */
function formatFloat32(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (Object.is(v, -0)) return '-0';
  for (let p = 1; p < 9; p++) {
    const candidate = Number(v.toPrecision(p));
    if (Math.fround(candidate) === v) return String(candidate);
  }
  return String(Number(v.toPrecision(9)));
}

function quoteField(s: string, delimiter: string): string {
  return s.includes(delimiter) || s.includes('"') || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}
