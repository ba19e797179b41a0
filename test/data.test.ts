import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { EbmConfigError, EbmIoError, EbmShapeError, Tensor } from '../lib';
import { readCsv, readCsvTable, writeCsv } from '../lib/data/csv';
import { fashionMnist, fashionMnistAvailable, fashionMnistDefaultDir } from '../lib/data/fashion';
import { IdxArray, readIdx, writeIdx } from '../lib/data/idx';
import { GaussianMixture, pathAlpha, pathGamma } from '../lib/data/mixture';
import { readNpy, writeNpy } from '../lib/data/npy';
import { toyLogDensity, toyMixture } from '../lib/data/toy';
import {
  applyStandardize,
  flattenRows,
  minMaxScale,
  standardize,
  trainTestSplit,
  undoStandardize,
} from '../lib/data/transform';
import { maxAbsDiff, randn, rejectsWith, rng, skipUnless, tmpDir } from './helpers';
import { referencePython, referencePythonHas } from './python';

/** Element-wise identity that also matches NaN with NaN and tells -0 from 0. */
function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): void {
  assert.equal(a.length, b.length, 'length mismatch');
  for (let i = 0; i < a.length; i++) assert.ok(Object.is(a[i], b[i]), `index ${i}: ${a[i]} !== ${b[i]}`);
}

function randomFloats(n: number, seed: number, scale = 10): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => scale * randn(r));
}

function noTempFiles(dir: string): void {
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  );
}

describe('data: IDX files', () => {
  const dir = tmpDir('ebm-idx-');
  const file = (name: string) => path.join(dir, name);
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: Array<[string, IdxArray]> = [
    ['uint8', Uint8Array.from([0, 1, 127, 128, 254, 255])],
    ['int8', Int8Array.from([-128, -1, 0, 1, 64, 127])],
    ['int16', Int16Array.from([-32768, -2, 0, 258, 1000, 32767])],
    ['int32', Int32Array.from([-2147483648, -70000, 0, 1, 16909060, 2147483647])],
    ['float32', Float32Array.from([-0, 1.5, -3.25e-20, 3.4e38, Infinity, NaN])],
    ['float64', Float64Array.from([Math.PI, -Math.E, 1e-300, -0, 1e300, -Infinity])],
  ];
  for (const [dtype, data] of cases) {
    it(`round-trips ${dtype} plain and gzip'd`, () => {
      writeIdx(file(`${dtype}.idx`), data, [2, 3]);
      const plain = readIdx(file(`${dtype}.idx`));
      assert.equal(plain.dtype, dtype);
      assert.deepEqual(plain.shape, [2, 3]);
      assert.equal(plain.data.constructor, data.constructor);
      sameValues(plain.data, data);

      // gzip'd by zlib here, under a name without .gz: detection must go by the magic bytes
      fs.writeFileSync(file(`${dtype}.bin`), gzipSync(fs.readFileSync(file(`${dtype}.idx`))));
      const gz = readIdx(file(`${dtype}.bin`));
      assert.equal(gz.dtype, dtype);
      assert.deepEqual(gz.shape, [2, 3]);
      sameValues(gz.data, data);
    });
  }

  it('writes gzip when the path ends in .gz, and reads it back', () => {
    const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) % 256);
    writeIdx(file('big.idx.gz'), data, [50, 10, 10]);
    const bytes = fs.readFileSync(file('big.idx.gz'));
    assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b]);
    const back = readIdx(file('big.idx.gz'));
    assert.deepEqual(back.shape, [50, 10, 10]);
    sameValues(back.data, data);
    writeIdx(file('forced.idx'), data, [5000], { gzip: true });
    assert.equal(fs.readFileSync(file('forced.idx'))[0], 0x1f);
    noTempFiles(dir);
  });

  it('decodes hand-written big-endian bytes', () => {
    const header = (code: number, n: number) => [0, 0, code, 1, 0, 0, 0, n];
    fs.writeFileSync(file('be16.idx'), Buffer.from([...header(0x0b, 2), 0x01, 0x02, 0xff, 0xfe]));
    sameValues(readIdx(file('be16.idx')).data, [258, -2]);
    fs.writeFileSync(file('be32.idx'), Buffer.from([...header(0x0c, 1), 0x01, 0x02, 0x03, 0x04]));
    sameValues(readIdx(file('be32.idx')).data, [0x01020304]);
    fs.writeFileSync(file('bef.idx'), Buffer.from([...header(0x0d, 2), 0x3f, 0xc0, 0, 0, 0xc1, 0x20, 0, 0]));
    sameValues(readIdx(file('bef.idx')).data, [1.5, -10]);
    fs.writeFileSync(
      file('bed.idx'),
      Buffer.from([...header(0x0e, 1), 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18]),
    );
    sameValues(readIdx(file('bed.idx')).data, [Math.PI]);
    // multi-dimensional header: dims are big-endian uint32
    fs.writeFileSync(file('dims.idx'), Buffer.from([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]));
    assert.deepEqual(readIdx(file('dims.idx')).shape, [2, 3]);
  });

  describe('rejects malformed files with EbmIoError', () => {
    const good = Buffer.from([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
    const bad: Array<[string, Buffer, RegExp]> = [
      ['empty file', Buffer.alloc(0), /truncated.*4-byte magic/],
      ['truncated data', good.subarray(0, good.length - 2), /truncated: the header declares \[2, 3\].*only 4 bytes/],
      ['truncated header', good.subarray(0, 9), /truncated inside its header/],
      ['bad magic', Buffer.from([1, 0, 0x08, 1, 0, 0, 0, 1, 7]), /bad magic number 01 00 08 01/],
      ['unknown dtype', Buffer.from([0, 0, 0x07, 1, 0, 0, 0, 1, 7]), /unknown dtype code 0x07/],
      ['too many dims', Buffer.concat([Buffer.from([0, 0, 8, 17]), Buffer.alloc(17 * 4, 1)]), /declares 17 dim/],
      ['zero dims', Buffer.from([0, 0, 8, 0]), /declares 0 dimensions/],
      ['trailing bytes', Buffer.concat([good, Buffer.from([9])]), /size mismatch.*7 bytes follow/],
      ['truncated gzip', gzipSync(good).subarray(0, 12), /gzip'd but cannot be decompressed/],
      ['gzip of a bad file', gzipSync(Buffer.from([0, 0, 0x08, 1, 0, 0, 0, 9, 1])), /truncated/],
    ];
    for (const [name, bytes, pattern] of bad) {
      it(name, async () => {
        const f = file(`bad-${name.replace(/ /g, '-')}.idx`);
        fs.writeFileSync(f, bytes);
        const err = await rejectsWith(() => readIdx(f), EbmIoError, pattern);
        assert.ok(err.message.includes(f), `message should name the file: ${err.message}`);
      });
    }
    it('missing file', async () => {
      await rejectsWith(() => readIdx(file('nope.idx')), EbmIoError, /IDX file .*nope\.idx does not exist/);
    });
    it('a directory', async () => {
      await rejectsWith(() => readIdx(dir), EbmIoError, /is a directory/);
    });
  });

  it('writeIdx checks its arguments and fails cleanly on an unwritable path', async () => {
    await rejectsWith(() => writeIdx(file('x.idx'), new Uint8Array(6), [2, 4]), EbmShapeError, /needs 8/);
    await rejectsWith(() => writeIdx(file('x.idx'), new Uint8Array(6), []), EbmShapeError, /1 to 16 dim/);
    await rejectsWith(
      () => writeIdx(path.join(dir, 'missing-dir', 'x.idx'), new Uint8Array(1), [1]),
      EbmIoError,
      /cannot write IDX file .*missing-dir/,
    );
    assert.ok(!fs.existsSync(file('x.idx')));
    noTempFiles(dir);
  });
});

/** An NPY file from parts, for hand-made headers. */
function npyBytes(major: number, header: string, payload: Uint8Array): Buffer {
  const head = Buffer.from(header, major === 3 ? 'utf8' : 'latin1');
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const len = Buffer.alloc(major === 1 ? 2 : 4);
  if (major === 1) len.writeUInt16LE(head.length);
  else len.writeUInt32LE(head.length);
  return Buffer.concat([pre, len, head, payload]);
}

const asBytes = (a: Float32Array | Float64Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('data: NPY files', () => {
  const dir = tmpDir('ebm-npy-');
  const file = (name: string) => path.join(dir, name);
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const shape of [[7], [2, 3], [2, 3, 4], [1, 1, 1, 5]]) {
    it(`round-trips shape [${shape.join(', ')}] exactly, 64-byte aligned`, () => {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = randomFloats(n, n);
      data[0] = -0;
      if (n > 2) data[1] = NaN;
      writeNpy(file('a.npy'), { data, shape });
      const back = readNpy(file('a.npy'));
      assert.deepEqual(back.shape, shape);
      sameValues(back.data, data);
      const bytes = fs.readFileSync(file('a.npy'));
      assert.equal((10 + bytes.readUInt16LE(8)) % 64, 0);
      assert.equal(bytes[9 + bytes.readUInt16LE(8)], 0x0a);
      noTempFiles(dir);
    });
  }

  it("reads '<f8', '|u1' and '<u1' in versions 1, 2 and 3", () => {
    const f8 = Float64Array.from([0.1, -2.5, 1e10, 7]);
    fs.writeFileSync(
      file('f8.npy'),
      npyBytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }    \n", asBytes(f8)),
    );
    const a = readNpy(file('f8.npy'));
    assert.deepEqual(a.shape, [2, 2]);
    sameValues(a.data, Float32Array.from(f8));

    const u1 = Uint8Array.from([0, 1, 200, 255, 17]);
    fs.writeFileSync(file('u1.npy'), npyBytes(2, '{"descr":"|u1","fortran_order":False,"shape":(5,)}\n', u1));
    const b = readNpy(file('u1.npy'));
    assert.deepEqual(b.shape, [5]);
    sameValues(b.data, [0, 1, 200, 255, 17]);

    fs.writeFileSync(file('u1v3.npy'), npyBytes(3, "{'shape': (1, 5), 'fortran_order': False, 'descr': '<u1'}\n", u1));
    assert.deepEqual(readNpy(file('u1v3.npy')).shape, [1, 5]);

    // an unaligned '<f4' payload is copied rather than viewed
    const f4 = Float32Array.from([1.25, -3]);
    fs.writeFileSync(
      file('f4.npy'),
      npyBytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n", asBytes(f4)),
    );
    sameValues(readNpy(file('f4.npy')).data, f4);

    // Fortran order is harmless when only one dimension exceeds 1
    fs.writeFileSync(
      file('f1d.npy'),
      npyBytes(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1)}\n", asBytes(f4)),
    );
    sameValues(readNpy(file('f1d.npy')).data, f4);
  });

  describe('rejects malformed files with EbmIoError', () => {
    const six = asBytes(new Float32Array(6));
    const h = (descr: string, extra = "'fortran_order': False, 'shape': (2, 3)") => `{'descr': '${descr}', ${extra}}\n`;
    const bad: Array<[string, Buffer, RegExp]> = [
      ['bad magic', Buffer.concat([Buffer.from('NUMPY!'), Buffer.alloc(20)]), /not an NPY file/],
      ['unknown version', npyBytes(4, h('<f4'), six), /format version 4\.0/],
      ['truncated header', npyBytes(1, h('<f4'), six).subarray(0, 30), /truncated: its header claims/],
      ['truncated data', npyBytes(1, h('<f4'), six.subarray(0, 20)), /truncated: shape \(2, 3\).*24 bytes.*only 20/],
      ['trailing data', npyBytes(1, h('<f4'), Buffer.concat([six, Buffer.alloc(4)])), /size mismatch/],
      ['unclosed tuple', npyBytes(1, h('<f4', "'fortran_order': False, 'shape': (2, 3"), six), /malformed header/],
      ['not a dict', npyBytes(1, "['<f4', False, (2, 3)]\n", six), /malformed header: it is not a dict/],
      ['missing shape', npyBytes(1, h('<f4', "'fortran_order': False"), six), /'shape' must be a tuple/],
      ['unknown key', npyBytes(1, h('<f4', "'fortran_order': False, 'shape': (6,), 'x': 1"), six), /key 'x'/],
      ['garbage', npyBytes(1, "{'descr': '<f4', 'fortran_order': Nope}\n", six), /malformed header/],
      ['Fortran order', npyBytes(1, h('<f4', "'fortran_order': True, 'shape': (2, 3)"), six), /Fortran.*C order/],
      ['int64 dtype', npyBytes(1, h('<i8'), six), /unsupported dtype '<i8'; supported: '<f4'/],
      ['big-endian float', npyBytes(1, h('>f4'), six), /unsupported dtype '>f4'/],
      [
        'structured dtype',
        npyBytes(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,)}\n", six),
        /malformed header: 'descr' must be a dtype string/,
      ],
      ['empty array', npyBytes(1, h('<f4', "'fortran_order': False, 'shape': (0, 3)"), Buffer.alloc(0)), /empty/],
      ['0-d scalar', npyBytes(1, h('<f4', "'fortran_order': False, 'shape': ()"), six.subarray(0, 4)), /0-d/],
    ];
    for (const [name, bytes, pattern] of bad) {
      it(name, async () => {
        const f = file(`bad-${name.replace(/ /g, '-')}.npy`);
        fs.writeFileSync(f, bytes);
        const err = await rejectsWith(() => readNpy(f), EbmIoError, pattern);
        assert.ok(err.message.includes(f), `message should name the file: ${err.message}`);
      });
    }
    it('missing file', async () => {
      await rejectsWith(() => readNpy(file('nope.npy')), EbmIoError, /NPY file .*nope\.npy does not exist/);
    });
  });

  it('writeNpy rejects a malformed tensor', async () => {
    await rejectsWith(
      () => writeNpy(file('bad.npy'), { data: new Float32Array(5), shape: [2, 3] }),
      EbmShapeError,
      /needs 6/,
    );
    assert.ok(!fs.existsSync(file('bad.npy')));
  });

  it('agrees with NumPy both ways', function () {
    skipUnless(this, referencePythonHas('numpy'), '/usr/bin/python3 has no numpy (apt-get install -y python3-numpy)');
    const data = randomFloats(12, 3);
    writeNpy(file('ours.npy'), { data, shape: [3, 4] });
    const script = `
import numpy as np, sys, json
d = sys.argv[1]
a = np.load(d + '/ours.npy')
np.save(d + '/np_f4.npy', (a * 2).astype('<f4'))
np.save(d + '/np_f8.npy', a.astype('<f8')[:, 1:3].copy())
np.save(d + '/np_u1.npy', np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
with open(d + '/np_v2.npy', 'wb') as f:
    np.lib.format.write_array(f, a, version=(2, 0))
print(json.dumps({'shape': list(a.shape), 'dtype': str(a.dtype), 'values': [float(v) for v in a.ravel()]}))
`;
    const reply = JSON.parse(execFileSync(referencePython, ['-c', script, dir]).toString()) as {
      shape: number[];
      dtype: string;
      values: number[];
    };
    assert.deepEqual(reply.shape, [3, 4]);
    assert.equal(reply.dtype, 'float32');
    sameValues(Float32Array.from(reply.values), data);
    sameValues(
      readNpy(file('np_f4.npy')).data,
      data.map((v) => 2 * v),
    );
    const f8 = readNpy(file('np_f8.npy'));
    assert.deepEqual(f8.shape, [3, 2]);
    sameValues(f8.data, [data[1], data[2], data[5], data[6], data[9], data[10]]);
    const u1 = readNpy(file('np_u1.npy'));
    assert.deepEqual(u1.shape, [2, 3, 4]);
    sameValues(
      u1.data,
      Array.from({ length: 24 }, (_, i) => i),
    );
    sameValues(readNpy(file('np_v2.npy')).data, data);
  });
});

describe('data: CSV files', () => {
  const dir = tmpDir('ebm-csv-');
  const file = (name: string) => path.join(dir, name);
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    fs.writeFileSync(file(name), text);
    return file(name);
  };

  it('round-trips float32 values exactly, with a header', () => {
    const data = randomFloats(40, 5, 1000);
    data.set([-0, 1e-30, 3.4028234663852886e38, 1.401298464324817e-45, NaN, Infinity, -Infinity, 0.1]);
    const t: Tensor = { data, shape: [10, 4] };
    writeCsv(file('a.csv'), t, { header: ['x', 'y, quoted', 'z "q"', 'w'] });
    const table = readCsvTable(file('a.csv'));
    assert.deepEqual(table.header, ['x', 'y, quoted', 'z "q"', 'w']);
    assert.deepEqual(table.tensor.shape, [10, 4]);
    sameValues(table.tensor.data, data);
    // shortest forms, not 17-digit doubles
    assert.match(fs.readFileSync(file('a.csv'), 'utf8'), /^.*\n-0,1e-30,3\.4028235e\+38,1e-45\nnan,inf,-inf,0\.1\n/);
    noTempFiles(dir);

    writeCsv(file('b.tsv'), t, { delimiter: '\t' });
    sameValues(readCsv(file('b.tsv'), { delimiter: '\t' }).data, data);
  });

  it('reads a file larger than its 4 MiB read chunk: lines and UTF-8 characters across chunk edges, a BOM', () => {
    // ~6.5 MB; the header's multi-byte names and every row length are odd, so the chunk
    // boundaries fall inside lines (and, for some chunk, could fall inside a character).
    const rows = 400000;
    // a header long enough that its '€' (3 bytes in UTF-8) straddles the first chunk edge
    const chunk = 1 << 22;
    const pad = 'x'.repeat(chunk - 3 - 2 - 1); // BOM (3 bytes) + 'é' (2 bytes) + 1 byte of '€' before the edge
    const parts = [`\ufeffé${pad}€,ß\r\n`];
    for (let i = 0; i < rows; i++) parts.push(`${i},${i * 0.5 - 7}\r\n`);
    fs.writeFileSync(file('big.csv'), parts.join(''));
    assert.ok(fs.statSync(file('big.csv')).size > 6e6);
    const { tensor, header } = readCsvTable(file('big.csv'));
    assert.equal(Buffer.byteLength(`\ufeffé${pad}`), chunk - 1, "'€' starts 1 byte before the edge");
    assert.deepEqual(header, [`é${pad}€`, 'ß']);
    assert.deepEqual(tensor.shape, [rows, 2]);
    for (const i of [0, 1, 262143, 262144, 299999, rows - 1]) {
      assert.equal(tensor.data[2 * i], i);
      assert.equal(tensor.data[2 * i + 1], Math.fround(i * 0.5 - 7));
    }
    // a line that spans several chunks (one field of 9 MB) is still one line
    fs.writeFileSync(file('wide.csv'), `a\n${'1'.repeat(9 << 20)}\n2\n`);
    assert.deepEqual(readCsv(file('wide.csv')).shape, [2, 1]);
    assert.throws(() => readCsv(dir), /is a directory/);
  });

  it('detects headers, skips blank lines, handles CRLF, quotes and column selection', () => {
    const f = write('b.csv', '\ufeffid,label,"value"\r\n\r\n1, cat ,2.5\r\n  \r\n2,dog,-1e3\r\n\r\n');
    const t = readCsvTable(f, { columns: [2, 0] });
    assert.deepEqual(t.header, ['value', 'id']);
    assert.deepEqual(t.tensor.shape, [2, 2]);
    sameValues(t.tensor.data, [2.5, 1, -1000, 2]);

    const numeric = write('c.csv', '1;2;3\n4;5;6\n');
    const auto = readCsvTable(numeric, { delimiter: ';' });
    assert.equal(auto.header, null);
    assert.deepEqual(auto.tensor.shape, [2, 3]);
    // header: true drops the first line even though it is numeric
    const forced = readCsv(numeric, { delimiter: ';', header: true });
    assert.deepEqual(forced.shape, [1, 3]);
    sameValues(forced.data, [4, 5, 6]);
    // header: false turns a text first line into an error instead of a header
    const named = write('d.csv', 'a,b\n1,2\n');
    sameValues(readCsv(named).data, [1, 2]);
    return rejectsWith(() => readCsv(named, { header: false }), EbmIoError, /line 1, column 1: "a" is not a number/);
  });

  describe('rejects bad files and options', () => {
    it('ragged rows (EbmIoError naming the lines)', async () => {
      const f = write('ragged.csv', 'a,b,c\n1,2,3\n4,5\n');
      await rejectsWith(() => readCsv(f), EbmIoError, /ragged\.csv line 3 has 2 fields but line 1 has 3/);
    });
    it('a non-numeric cell (EbmIoError naming line, column and header)', async () => {
      const f = write('text.csv', 'a,b\n1,2\n\n3,abc\n');
      await rejectsWith(() => readCsv(f), EbmIoError, /text\.csv line 4, column 2 \("b"\): "abc" is not a number/);
    });
    it('an empty cell', async () => {
      const f = write('empty-cell.csv', '1,2\n3,\n');
      await rejectsWith(() => readCsv(f), EbmIoError, /line 2, column 2: "" is not a number/);
    });
    it('an unterminated quote', async () => {
      const f = write('quote.csv', '1,"2\n');
      await rejectsWith(() => readCsv(f), EbmIoError, /quote\.csv line 1: unterminated quoted field/);
    });
    it('no data rows', async () => {
      await rejectsWith(() => readCsv(write('header-only.csv', 'a,b\n')), EbmIoError, /has no data rows/);
      await rejectsWith(() => readCsv(write('blank.csv', '\n \n')), EbmIoError, /has no data rows/);
    });
    it('a missing file', async () => {
      await rejectsWith(() => readCsv(file('nope.csv')), EbmIoError, /CSV file .*nope\.csv does not exist/);
    });
    it('bad options (EbmConfigError)', async () => {
      const f = write('ok.csv', '1,2\n');
      await rejectsWith(() => readCsv(f, { columns: [2] }), EbmConfigError, /columns\[0\] is 2 but .* has 2 columns/);
      await rejectsWith(() => readCsv(f, { columns: [-1] }), EbmConfigError, /columns\[0\] must be a non-negative/);
      await rejectsWith(() => readCsv(f, { delimiter: '' }), EbmConfigError, /delimiter must be a non-empty/);
      const typo = { heder: true } as unknown as { header: boolean };
      await rejectsWith(() => readCsv(f, typo), EbmConfigError, /heder is not a known option/);
    });
    it('writeCsv: not 2D, or a header of the wrong length', async () => {
      const t3: Tensor = { data: new Float32Array(8), shape: [2, 2, 2] };
      await rejectsWith(() => writeCsv(file('x.csv'), t3), EbmShapeError, /2D tensor.*\[2, 2, 2\]/);
      const t2: Tensor = { data: new Float32Array(4), shape: [2, 2] };
      await rejectsWith(() => writeCsv(file('x.csv'), t2, { header: ['a'] }), EbmConfigError, /array of 2 strings/);
      assert.ok(!fs.existsSync(file('x.csv')));
    });
  });
});

describe('data: transforms', () => {
  const r = rng(11);
  const n = 500;
  const x: Tensor = {
    data: Float32Array.from({ length: n * 3 }, (_, i) => (i % 3 === 2 ? 4 : (i % 3) * 10 + 3 * randn(r) - 7)),
    shape: [n, 3],
  };

  function columnStats(t: Tensor, j: number): { mean: number; std: number } {
    const d = t.shape[1];
    let s = 0;
    for (let i = 0; i < t.shape[0]; i++) s += t.data[i * d + j];
    const mean = s / t.shape[0];
    let v = 0;
    for (let i = 0; i < t.shape[0]; i++) v += (t.data[i * d + j] - mean) ** 2;
    return { mean, std: Math.sqrt(v / t.shape[0]) };
  }

  it('standardize: mean 0, std 1 per column; a constant column maps to 0', () => {
    const { tensor, mean, std } = standardize(x);
    for (const j of [0, 1]) {
      const before = columnStats(x, j);
      assert.ok(Math.abs(mean[j] - before.mean) < 1e-9);
      assert.ok(Math.abs(std[j] - before.std) < 1e-9);
      const after = columnStats(tensor, j);
      assert.ok(Math.abs(after.mean) < 1e-6, `column ${j} mean ${after.mean}`);
      assert.ok(Math.abs(after.std - 1) < 1e-6, `column ${j} std ${after.std}`);
    }
    assert.equal(std[2], 1);
    assert.equal(mean[2], 4);
    assert.ok(tensor.data.every((v, i) => i % 3 !== 2 || v === 0));
    // reused statistics, and their inverse
    const other: Tensor = { data: Float32Array.from([mean[0], mean[1] + std[1], 4]), shape: [1, 3] };
    assert.ok(maxAbsDiff(applyStandardize(other, { mean, std }).data, [0, 1, 0]) < 1e-5);
    assert.ok(maxAbsDiff(undoStandardize(tensor, { mean, std }).data, x.data) < 1e-4);
  });

  it('minMaxScale: each column spans [lo, hi] exactly', () => {
    const s = minMaxScale(x);
    const s01 = minMaxScale(x, 0, 1);
    for (const [t, lo, hi] of [
      [s, -1, 1],
      [s01, 0, 1],
    ] as const) {
      for (const j of [0, 1]) {
        const col = Array.from({ length: n }, (_, i) => t.data[i * 3 + j]);
        assert.ok(Math.abs(Math.min(...col) - lo) < 1e-6 && Math.abs(Math.max(...col) - hi) < 1e-6);
      }
    }
    assert.equal(s01.data[2], 0.5);
    return rejectsWith(() => minMaxScale(x, 1, 1), EbmConfigError, /lo < hi/);
  });

  it('trainTestSplit: sizes, disjoint, rows intact, seeded; works on rank 3', async () => {
    const rows = 101;
    const t: Tensor = { data: Float32Array.from({ length: rows * 6 }, (_, i) => i), shape: [rows, 2, 3] };
    const a = trainTestSplit(t, 0.2, 7);
    assert.deepEqual(a.test.shape, [20, 2, 3]);
    assert.deepEqual(a.train.shape, [81, 2, 3]);
    const all = [...a.trainIndices, ...a.testIndices].sort((p, q) => p - q);
    assert.deepEqual(
      all,
      Array.from({ length: rows }, (_, i) => i),
    );
    a.testIndices.forEach((r0, i) =>
      sameValues(a.test.data.subarray(i * 6, i * 6 + 6), t.data.subarray(r0 * 6, r0 * 6 + 6)),
    );
    a.trainIndices.forEach((r0, i) =>
      sameValues(a.train.data.subarray(i * 6, i * 6 + 6), t.data.subarray(r0 * 6, r0 * 6 + 6)),
    );
    const b = trainTestSplit(t, 0.2, 7);
    sameValues(b.testIndices, a.testIndices);
    sameValues(b.train.data, a.train.data);
    const c = trainTestSplit(t, 0.2, 8);
    assert.notDeepEqual(Array.from(c.testIndices), Array.from(a.testIndices));
    // shuffled, not just the first rows
    assert.notDeepEqual(
      Array.from(a.testIndices).sort((p, q) => p - q),
      Array.from({ length: 20 }, (_, i) => i),
    );
    await rejectsWith(() => trainTestSplit(t, 0, 1), EbmConfigError, /testFraction must be > 0/);
    await rejectsWith(() => trainTestSplit(t, 1, 1), EbmConfigError, /testFraction must be < 1/);
    const tiny: Tensor = { data: new Float32Array(2), shape: [2, 1] };
    await rejectsWith(() => trainTestSplit(tiny, 0.1, 1), EbmConfigError, /both need at least one/);
  });

  it('flattenRows: [N, ...] → [N, prod] sharing the data', () => {
    const t: Tensor = { data: new Float32Array(24), shape: [2, 3, 4] };
    const f = flattenRows(t);
    assert.deepEqual(f.shape, [2, 12]);
    assert.equal(f.data, t.data);
    assert.deepEqual(flattenRows({ data: new Float32Array(5), shape: [5] }).shape, [5, 1]);
  });

  it('rejects tensors of the wrong rank', async () => {
    await rejectsWith(() => standardize({ data: new Float32Array(8), shape: [2, 2, 2] }), EbmShapeError, /2D/);
  });
});

describe('data: Fashion-MNIST (Debian dataset-fashion-mnist)', () => {
  before(function () {
    skipUnless(
      this,
      fashionMnistAvailable(),
      `Fashion-MNIST is not in ${fashionMnistDefaultDir} (apt-get install -y dataset-fashion-mnist)`,
    );
  });

  it('train: 60000 × 1 × 28 × 28 in [0, 1], 6000 labels per class', () => {
    const { images, labels } = fashionMnist();
    assert.deepEqual(images.shape, [60000, 1, 28, 28]);
    assert.equal(images.data.length, 60000 * 784);
    assert.equal(labels.length, 60000);
    const counts = new Array<number>(10).fill(0);
    labels.forEach((l) => counts[l]++);
    assert.deepEqual(counts, new Array(10).fill(6000));
    let min = Infinity;
    let max = -Infinity;
    for (const v of images.data) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    assert.equal(min, 0);
    assert.equal(max, 1);
  });

  it("test: 10000 examples; '-11' and 'none' scales; limit", () => {
    const t = fashionMnist({ split: 'test', scale: '-11' });
    assert.deepEqual(t.images.shape, [10000, 1, 28, 28]);
    assert.equal(t.labels.length, 10000);
    assert.ok(t.labels.every((l) => l <= 9));
    assert.ok(t.images.data.every((v) => v >= -1 && v <= 1));
    assert.ok(t.images.data.some((v) => v === -1) && t.images.data.some((v) => v === 1));

    const raw = fashionMnist({ split: 'test', scale: 'none', limit: 50 });
    assert.deepEqual(raw.images.shape, [50, 1, 28, 28]);
    sameValues(raw.labels, t.labels.subarray(0, 50));
    assert.ok(raw.images.data.every((v) => Number.isInteger(v) && v >= 0 && v <= 255));
    assert.ok(raw.images.data.some((v) => v > 200));
    const unit = fashionMnist({ split: 'test', scale: '01', limit: 50 });
    assert.ok(
      maxAbsDiff(
        unit.images.data,
        raw.images.data.map((v) => v / 255),
      ) < 1e-7,
    );
    assert.ok(
      maxAbsDiff(
        t.images.data.subarray(0, 50 * 784),
        raw.images.data.map((v) => v / 127.5 - 1),
      ) < 1e-6,
    );
    // the loader and a direct IDX read agree
    const direct = readIdx(path.join(fashionMnistDefaultDir, 't10k-images-idx3-ubyte.gz'));
    assert.deepEqual(direct.shape, [10000, 28, 28]);
    sameValues(raw.images.data, direct.data.subarray(0, 50 * 784));
  });
});

describe('data: Fashion-MNIST errors', () => {
  it('a missing directory or file says how to install the package', async () => {
    const empty = tmpDir('ebm-fm-');
    fs.writeFileSync(path.join(empty, 'train-images-idx3-ubyte.gz'), '');
    assert.equal(fashionMnistAvailable(empty), false);
    await rejectsWith(
      () => fashionMnist({ dir: path.join(empty, 'nope') }),
      EbmIoError,
      /directory .*nope does not exist; install it with `apt-get install -y dataset-fashion-mnist`/,
    );
    await rejectsWith(
      () => fashionMnist({ dir: empty, split: 'test' }),
      EbmIoError,
      /t10k-images-idx3-ubyte\.gz is missing; .*apt-get install -y dataset-fashion-mnist/,
    );
    fs.rmSync(empty, { recursive: true, force: true });
  });

  it('bad options are EbmConfigError', async () => {
    const bad = (o: unknown) => () => fashionMnist(o as Parameters<typeof fashionMnist>[0]);
    await rejectsWith(bad({ split: 'val' }), EbmConfigError, /split must be one of 'train', 'test'/);
    await rejectsWith(bad({ scale: '0-1' }), EbmConfigError, /scale must be one of/);
    await rejectsWith(bad({ limit: 0 }), EbmConfigError, /limit must be >= 1/);
    await rejectsWith(bad({ splt: 'test' }), EbmConfigError, /splt is not a known option/);
  });
});

describe('data: Gaussian mixtures', () => {
  // independent transcriptions of native/core/noise_path.cc
  const vpAlpha = (t: number, b0 = 0.1, b1 = 20) => Math.exp(-0.5 * (b0 * t + 0.5 * (b1 - b0) * t * t));
  const vpGamma = (t: number, b0 = 0.1, b1 = 20) => Math.sqrt(Math.max(1 - vpAlpha(t, b0, b1) ** 2, 1e-12));
  const veGamma = (t: number, s0 = 0.01, s1 = 10) => s0 * Math.pow(s1 / s0, t);

  it('pathAlpha / pathGamma follow the C++ formulas', () => {
    for (const t of [0, 1e-3, 0.1, 0.5, 0.9, 1]) {
      assert.ok(Math.abs(pathAlpha('vp', t) - vpAlpha(t)) < 1e-15);
      assert.ok(Math.abs(pathGamma('vp', t) - vpGamma(t)) < 1e-15);
      assert.ok(Math.abs(pathAlpha('vp', t, { betaMin: 1, betaMax: 5 }) - vpAlpha(t, 1, 5)) < 1e-15);
      assert.equal(pathAlpha('ve', t), 1);
      assert.ok(Math.abs(pathGamma('ve', t) - veGamma(t)) < 1e-15);
      assert.ok(Math.abs(pathGamma('ve', t, { sigmaMin: 0.1, sigmaMax: 2 }) - veGamma(t, 0.1, 2)) < 1e-15);
    }
    assert.equal(pathGamma('vp', 0), 1e-6); // the 1e-12 variance floor
    assert.ok(Math.abs(pathAlpha('vp', 1) - Math.exp(-5.025)) < 1e-15);
    assert.ok(Math.abs(pathGamma('ve', 1) - 10) < 1e-12);
  });

  it('rejects bad parameters with EbmConfigError naming the field', async () => {
    const mk = (spec: unknown) => () => new GaussianMixture(spec as ConstructorParameters<typeof GaussianMixture>[0]);
    const base = {
      means: [
        [0, 0],
        [1, 1],
      ],
      stds: [1, 1],
      weights: [0.5, 0.5],
    };
    const cases: Array<[unknown, RegExp]> = [
      [{ ...base, weights: [0.5, 0.6] }, /mixture\.weights must sum to 1 \(within 1e-6\), got 1\.1/],
      [{ ...base, weights: [1.5, -0.5] }, /mixture\.weights\[1\] must be > 0/],
      [{ ...base, weights: [1] }, /mixture\.weights must be an array of 2/],
      [{ ...base, means: [[0, 0], [1]] }, /mixture\.means\[1\] has 1 entries but mixture\.means\[0\] has 2/],
      [{ ...base, means: [] }, /mixture\.means must be a non-empty array/],
      [
        {
          ...base,
          means: [
            [0, NaN],
            [1, 1],
          ],
        },
        /mixture\.means\[0\]\[1\] must be a finite number/,
      ],
      [{ ...base, stds: [1, 0] }, /mixture\.stds\[1\] must be > 0/],
      [{ ...base, stds: [1, [1, -2]] }, /mixture\.stds\[1\]\[1\] must be > 0/],
      [{ ...base, stds: [1, [1, 2, 3]] }, /mixture\.stds\[1\] must be a number or an array of 2/],
      [{ ...base, stds: [1] }, /mixture\.stds must be a number or an array of 2/],
      [{ ...base, stds: -1 }, /mixture\.stds must be > 0/],
      [{ ...base, std: 1 }, /mixture\.std is not a known option/],
    ];
    for (const [spec, pattern] of cases) await rejectsWith(mk(spec), EbmConfigError, pattern);
    const m = new GaussianMixture(base);
    const x: Tensor = { data: new Float32Array(2), shape: [1, 2] };
    await rejectsWith(() => m.logDensity(x, { path: 'vp', t: 1.5 }), EbmConfigError, /at\.t must be <= 1/);
    await rejectsWith(() => m.logDensity(x, { path: 'vp', t: 0.5, betaMin: 30 }), EbmConfigError, /betaMin < betaMax/);
    const bogus = { path: 'sde', t: 0.5 } as unknown as { path: 'vp'; t: number };
    await rejectsWith(() => m.logDensity(x, bogus), EbmConfigError, /at\.path must be one of 'vp', 've'/);
    await rejectsWith(() => pathGamma('ve', 0.5, { sigmaMin: 0 }), EbmConfigError, /0 < sigmaMin < sigmaMax/);
    await rejectsWith(() => m.logDensity({ data: new Float32Array(3), shape: [1, 3] }), EbmShapeError, /\[N, 2\]/);
  });

  // three components in 3D with diagonal and isotropic stds
  const mix = new GaussianMixture({
    means: [
      [0, 0, 0],
      [3, -1, 2],
      [-2, 2, 1],
    ],
    stds: [0.5, [1, 0.3, 2], 0.8],
    weights: [0.5, 0.3, 0.2],
  });

  it('samples match the analytic mean, covariance and weights (seeded)', () => {
    const n = 200000;
    const { x, components } = mix.sampleWithComponents(n, 3);
    sameValues(mix.sample(n, 3).data, x.data);
    // analytic moments written out independently of moments()
    const mu = [
      [0, 0, 0],
      [3, -1, 2],
      [-2, 2, 1],
    ];
    const vars = [
      [0.25, 0.25, 0.25],
      [1, 0.09, 4],
      [0.64, 0.64, 0.64],
    ];
    const w = [0.5, 0.3, 0.2];
    const mean = [0, 1, 2].map((a) => w.reduce((s, wk, k) => s + wk * mu[k][a], 0));
    const cov = [0, 1, 2].map((a) =>
      [0, 1, 2].map(
        (b) =>
          w.reduce((s, wk, k) => s + wk * ((a === b ? vars[k][a] : 0) + mu[k][a] * mu[k][b]), 0) - mean[a] * mean[b],
      ),
    );
    const m = mix.moments();
    assert.ok(maxAbsDiff(m.mean, mean) < 1e-12);
    assert.ok(maxAbsDiff(m.cov, cov.flat()) < 1e-12);

    const sm = [0, 0, 0];
    for (let i = 0; i < n; i++) for (let a = 0; a < 3; a++) sm[a] += x.data[i * 3 + a] / n;
    const sc = new Array<number>(9).fill(0);
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < 3; a++) {
        for (let b = 0; b < 3; b++) sc[a * 3 + b] += ((x.data[i * 3 + a] - sm[a]) * (x.data[i * 3 + b] - sm[b])) / n;
      }
    }
    // standard errors here are ≈ 0.005 (means) and ≈ 0.02 (covariances)
    assert.ok(maxAbsDiff(sm, mean) < 0.02, `sample mean ${sm} vs ${mean}`);
    assert.ok(maxAbsDiff(sc, cov.flat()) < 0.08, `sample cov ${sc} vs ${cov.flat()}`);
    const freq = [0, 0, 0];
    components.forEach((k) => freq[k]++);
    assert.ok(
      maxAbsDiff(
        freq.map((f) => f / n),
        w,
      ) < 0.005,
    );
    assert.notDeepEqual(Array.from(mix.sample(10, 4).data), Array.from(mix.sample(10, 3).data));
  });

  // a 2D mixture whose narrowest std (0.3) a 0.05 grid resolves
  const mix2 = new GaussianMixture({
    means: [
      [-2, 0],
      [1.5, 1.5],
      [1, -2.5],
    ],
    stds: [[0.3, 0.6], 0.5, [1, 0.4]],
    weights: [0.2, 0.5, 0.3],
  });
  function gridMass(m: GaussianMixture, at?: Parameters<GaussianMixture['logDensity']>[1]): number {
    const h = 0.05;
    const lo = -9;
    const steps = Math.round((2 * -lo) / h);
    const pts = new Float32Array(steps * steps * 2);
    for (let i = 0; i < steps; i++) {
      for (let j = 0; j < steps; j++) {
        pts[2 * (i * steps + j)] = lo + (i + 0.5) * h;
        pts[2 * (i * steps + j) + 1] = lo + (j + 0.5) * h;
      }
    }
    const lp = m.logDensity({ data: pts, shape: [steps * steps, 2] }, at);
    return lp.reduce((s, v) => s + Math.exp(v), 0) * h * h;
  }

  it('logDensity integrates to 1 on a 2D grid (data and along both paths)', () => {
    for (const at of [undefined, { path: 'vp', t: 0.2 } as const, { path: 've', t: 0.3 } as const]) {
      const mass = gridMass(mix2, at);
      assert.ok(Math.abs(mass - 1) < 1e-3, `mass ${mass} at ${JSON.stringify(at)}`);
    }
  });

  it('logDensity at path time t equals the direct Gaussian formula for one component', () => {
    const mu = [1, -2, 0.5];
    const sd = [0.5, 2, 1];
    const one = new GaussianMixture({ means: [mu], stds: [sd], weights: [1] });
    const r = rng(21);
    const pts = Float32Array.from({ length: 3 * 20 }, () => 3 * randn(r));
    const x: Tensor = { data: pts, shape: [20, 3] };
    const direct = (alpha: number, gamma: number) =>
      Array.from({ length: 20 }, (_, i) =>
        [0, 1, 2].reduce((s, j) => {
          const v = alpha * alpha * sd[j] * sd[j] + gamma * gamma;
          return s - 0.5 * Math.log(2 * Math.PI * v) - (pts[i * 3 + j] - alpha * mu[j]) ** 2 / (2 * v);
        }, 0),
      );
    const paths = [
      [{ path: 'vp', t: 0.4 }, vpAlpha(0.4), vpGamma(0.4)],
      [{ path: 'vp', t: 0.7, betaMin: 0.5, betaMax: 8 }, vpAlpha(0.7, 0.5, 8), vpGamma(0.7, 0.5, 8)],
      [{ path: 've', t: 0.6 }, 1, veGamma(0.6)],
      [{ path: 've', t: 0.2, sigmaMin: 0.05, sigmaMax: 3 }, 1, veGamma(0.2, 0.05, 3)],
    ] as const;
    for (const [at, a, g] of paths) {
      assert.ok(maxAbsDiff(one.logDensity(x, at), direct(a, g)) < 1e-9, JSON.stringify(at));
    }
    // t = 0 on VE is the data density plus σ_min² of extra variance
    assert.ok(maxAbsDiff(one.logDensity(x, { path: 've', t: 0 }), direct(1, 0.01)) < 1e-9);
  });

  it('agrees with toyLogDensity on the 8gaussians mixture', () => {
    const toy = toyMixture('8gaussians');
    const m = new GaussianMixture({ means: toy.means, stds: toy.std, weights: toy.weights });
    const x = m.sample(200, 9);
    assert.ok(maxAbsDiff(m.logDensity(x), toyLogDensity(toy, x)) < 1e-9);
  });

  it('the VP path at t = 1 is close to N(0, I)', () => {
    const far = new GaussianMixture({
      means: [
        [-4, 3],
        [5, 0],
      ],
      stds: [0.2, [1, 2]],
      weights: [0.4, 0.6],
    });
    const r = rng(5);
    // α_1 ≈ 0.0066, so the means shrink to ≈ 0.03 and log p_1 − log N(0, I) ≈ α_1 μ·x stays below 0.1 for |x| < 3
    const pts = Float32Array.from({ length: 2 * 200 }, () => Math.max(-2, Math.min(2, randn(r))));
    const lp = far.logDensity({ data: pts, shape: [200, 2] }, { path: 'vp', t: 1 });
    const std = Array.from(
      { length: 200 },
      (_, i) => -Math.log(2 * Math.PI) - (pts[2 * i] ** 2 + pts[2 * i + 1] ** 2) / 2,
    );
    assert.ok(maxAbsDiff(lp, std) < 0.1, `max |log p_1 − log N(0, I)| = ${maxAbsDiff(lp, std)}`);
    // at t = 0.3 the modes are still there: far from N(0, I)
    const lp03 = far.logDensity({ data: pts, shape: [200, 2] }, { path: 'vp', t: 0.3 });
    assert.ok(maxAbsDiff(lp03, std) > 1);
    const s = far.sample(50000, 2, { path: 'vp', t: 1 });
    const mean = [0, 0];
    const sq = [0, 0];
    for (let i = 0; i < 50000; i++) {
      for (let j = 0; j < 2; j++) {
        mean[j] += s.data[2 * i + j] / 50000;
        sq[j] += s.data[2 * i + j] ** 2 / 50000;
      }
    }
    assert.ok(maxAbsDiff(mean, [0, 0]) < 0.03 && maxAbsDiff(sq, [1, 1]) < 0.03, `${mean} ${sq}`);
  });

  it('score is the gradient of logDensity; posteriors sum to 1', () => {
    const r = rng(8);
    const n = 30;
    const x: Tensor = { data: Float32Array.from({ length: 3 * n }, () => 2 * randn(r)), shape: [n, 3] };
    for (const at of [undefined, { path: 'vp', t: 0.3 } as const]) {
      const s = mix.score(x, at);
      assert.deepEqual(s.shape, [n, 3]);
      const h = 1e-3;
      for (let j = 0; j < 3; j++) {
        const plus = Float32Array.from(x.data);
        const minus = Float32Array.from(x.data);
        const dx = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          plus[i * 3 + j] += h;
          minus[i * 3 + j] -= h;
          dx[i] = plus[i * 3 + j] - minus[i * 3 + j]; // the float32 step actually taken
        }
        const lp = mix.logDensity({ data: plus, shape: [n, 3] }, at);
        const lm = mix.logDensity({ data: minus, shape: [n, 3] }, at);
        for (let i = 0; i < n; i++) {
          const fd = (lp[i] - lm[i]) / dx[i];
          assert.ok(Math.abs(fd - s.data[i * 3 + j]) < 1e-3 * (1 + Math.abs(fd)), `row ${i} dim ${j}: ${fd}`);
        }
      }
    }
    const post = mix.componentPosteriors(x);
    assert.equal(post.length, 3);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(post[0][i] + post[1][i] + post[2][i] - 1) < 1e-12);
    // a point on top of a far-away mode belongs to it
    const onMode = mix.componentPosteriors({ data: Float32Array.from([3, -1, 2]), shape: [1, 3] });
    assert.ok(onMode[1][0] > 0.999);
  });
});
