/**
 * The TensorBoard event file of a run folder, read back without the writer's libraries: a
 * table-based CRC32C and a protobuf wire-format parser written here.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { tmpDir } from './helpers';

const CLI = path.resolve(__dirname, '../lib/cli/main.js');

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (c >>> 8) ^ CRC_TABLE[(c ^ b) & 0xff];
  return (c ^ 0xffffffff) >>> 0;
}

function masked(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

/** Splits a TFRecord stream; throws on a bad length, a bad CRC or trailing bytes. */
function records(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    assert.ok(at + 12 <= buf.length, `record header at ${at} cut short`);
    assert.equal(buf.readUInt32LE(at + 8), masked(buf.subarray(at, at + 8)), `length CRC of the record at ${at}`);
    const n = Number(buf.readBigUInt64LE(at));
    assert.ok(at + 16 + n <= buf.length, `record at ${at} cut short`);
    const data = buf.subarray(at + 12, at + 12 + n);
    assert.equal(buf.readUInt32LE(at + 12 + n), masked(data), `data CRC of the record at ${at}`);
    out.push(data);
    at += 16 + n;
  }
  return out;
}

interface WireField {
  field: number;
  wire: number;
  varint?: bigint;
  bytes?: Buffer;
}

/** The fields of one protobuf message (wire types 0, 1, 2 and 5). */
function fields(buf: Buffer): WireField[] {
  const out: WireField[] = [];
  let at = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      assert.ok(at < buf.length, 'varint cut short');
      const b = buf[at++];
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
    }
  };
  while (at < buf.length) {
    const key = Number(varint());
    const f: WireField = { field: key >>> 3, wire: key & 7 };
    if (f.wire === 0) f.varint = varint();
    else if (f.wire === 1 || f.wire === 5) {
      const n = f.wire === 1 ? 8 : 4;
      f.bytes = buf.subarray(at, at + n);
      at += n;
    } else if (f.wire === 2) {
      const n = Number(varint());
      f.bytes = buf.subarray(at, at + n);
      at += n;
    } else assert.fail(`unexpected wire type ${f.wire}`);
    assert.ok(at <= buf.length, 'field cut short');
    out.push(f);
  }
  return out;
}

interface Value {
  tag: string;
  simple?: number;
  image?: { height: number; width: number; colorspace: number; png: Buffer };
}

interface Event {
  wallTime?: number;
  step: number;
  fileVersion?: string;
  values: Value[];
}

function event(data: Buffer): Event {
  const e: Event = { step: 0, values: [] };
  for (const f of fields(data)) {
    if (f.field === 1 && f.wire === 1) e.wallTime = f.bytes!.readDoubleLE(0);
    else if (f.field === 2 && f.wire === 0) e.step = Number(f.varint);
    else if (f.field === 3 && f.wire === 2) e.fileVersion = f.bytes!.toString('utf8');
    else if (f.field === 5 && f.wire === 2) {
      for (const s of fields(f.bytes!)) {
        assert.equal(s.field, 1, 'Summary holds only values');
        const v: Value = { tag: '' };
        for (const g of fields(s.bytes!)) {
          if (g.field === 1) v.tag = g.bytes!.toString('utf8');
          else if (g.field === 2 && g.wire === 5) v.simple = g.bytes!.readFloatLE(0);
          else if (g.field === 4 && g.wire === 2) {
            const img: NonNullable<Value['image']> = { height: 0, width: 0, colorspace: 0, png: Buffer.alloc(0) };
            for (const h of fields(g.bytes!)) {
              if (h.field === 1) img.height = Number(h.varint);
              else if (h.field === 2) img.width = Number(h.varint);
              else if (h.field === 3) img.colorspace = Number(h.varint);
              else if (h.field === 4) img.png = h.bytes!;
            }
            v.image = img;
          } else assert.fail(`unexpected Value field ${g.field}`);
        }
        e.values.push(v);
      }
    } else assert.fail(`unexpected Event field ${f.field} (wire ${f.wire})`);
  }
  return e;
}

function ebm(args: string[], cwd: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, timeout: 90_000 }, (err, _stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stderr });
    });
  });
}

describe('tfevents: the TensorBoard event file of a run folder', () => {
  let dir: string;
  let runDir: string;
  let file: Buffer;
  let events: Event[];
  let started: number;

  before(async () => {
    dir = tmpDir('ebm-tfevents-');
    const config = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../examples/8gaussians-ed.json'), 'utf8'));
    config.name = 'tb';
    config.data.n = 2000;
    config.model.hidden = [32, 32];
    config.train.logEvery = 10;
    config.eval.grid.resolution = 60;
    config.eval.samples = { n: 100, seed: 2, sampler: { kind: 'mala', steps: 20, stepSize: 0.01 } };
    fs.writeFileSync(path.join(dir, 'tb.json'), JSON.stringify(config));
    started = Math.floor(Date.now() / 1000);
    const r = await ebm(['train', 'tb.json', '--steps', '30'], dir);
    assert.equal(r.code, 0, r.stderr);
    runDir = path.join(dir, 'runs', 'tb');
    const names = fs.readdirSync(runDir).filter((f) => f.startsWith('events.out.tfevents.'));
    assert.equal(names.length, 1, `one event file, got ${names.join(', ')}`);
    const m = /^events\.out\.tfevents\.(\d+)\.(.+)$/.exec(names[0]);
    assert.ok(m, names[0]);
    assert.ok(Number(m[1]) >= started && Number(m[1]) <= Date.now() / 1000, 'unix seconds in the name');
    assert.equal(m[2], os.hostname());
    file = fs.readFileSync(path.join(runDir, names[0]));
    events = records(file).map(event);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('checks its own CRC32C against the standard check value', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  });

  it('frames every record with valid CRCs, and a flipped byte breaks one', () => {
    assert.ok(events.length >= 5);
    const lengthFlip = Buffer.from(file);
    lengthFlip[0] ^= 1;
    assert.throws(() => records(lengthFlip), /length CRC/);
    const dataFlip = Buffer.from(file);
    dataFlip[file.length - 10] ^= 0x10;
    assert.throws(() => records(dataFlip), /data CRC/);
    const crcFlip = Buffer.from(file);
    crcFlip[file.length - 1] ^= 0x80;
    assert.throws(() => records(crcFlip), /data CRC/);
  });

  it('starts with the file_version record', () => {
    const [first] = events;
    assert.equal(first.fileVersion, 'brain.Event:2');
    assert.equal(first.values.length, 0);
    assert.ok(first.wallTime! >= started && first.wallTime! <= Date.now() / 1000 + 1, `wall_time ${first.wallTime}`);
    assert.ok(events.slice(1).every((e) => e.fileVersion === undefined));
  });

  it('holds every numeric field of metrics.jsonl as a float32 scalar at its step', () => {
    const lines = fs
      .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 3);
    const scalars = events.filter((e) => e.values.some((v) => v.simple !== undefined));
    assert.equal(scalars.length, lines.length);
    lines.forEach((line, i) => {
      const expected: Record<string, number> = {};
      for (const [k, v] of Object.entries(line)) {
        if (k === 'step' || k === 'wallSeconds') continue;
        if (typeof v === 'number') expected[k] = Math.fround(v);
        else if (v && typeof v === 'object') {
          for (const [mk, mv] of Object.entries(v)) if (typeof mv === 'number') expected[mk] = Math.fround(mv);
        }
      }
      for (const k of ['loss', 'lr', 'stepsPerSecond']) assert.ok(k in expected, `${k} in metrics.jsonl`);
      assert.equal(scalars[i].step, line.step);
      const got = Object.fromEntries(scalars[i].values.map((v) => [v.tag, v.simple]));
      assert.deepEqual(got, expected, `scalars at step ${String(line.step)}`);
    });
  });

  it('holds each PNG of the run folder as an image summary with its exact bytes', () => {
    for (const name of ['loss', 'density', 'samples']) {
      const png = fs.readFileSync(path.join(runDir, `${name}.png`));
      const found = events.flatMap((e) =>
        e.values.filter((v) => v.tag === name && v.simple === undefined).map((v) => ({ step: e.step, v })),
      );
      assert.equal(found.length, 1, `one ${name} image`);
      const { step, v } = found[0];
      assert.equal(step, 30);
      assert.ok(v.image, `${name} is an image`);
      assert.ok(v.image.png.equals(png), `${name} bytes equal ${name}.png`);
      const decoded = PNG.sync.read(png);
      assert.deepEqual([v.image.width, v.image.height], [decoded.width, decoded.height]);
      assert.ok([3, 4].includes(v.image.colorspace), `colorspace ${v.image.colorspace}`);
    }
  });
});
