/** plot.*: the PNG figures, the canvas and colour maps, writePng; RunLog and writeFileAtomic. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ebm from '../../lib';
import { entry, fixed, grid, scratchDir, tensorArg, writablePath } from './fixtures';
import { casesOf, Entry, Group } from './harness';
import { arr, bool, custom, fn, int, num, obj, oneOf, opt, str, tensorSpec, tuple, union } from './spec';

const { plot } = ebm;
const RES = 4;

const rgb = () => opt(tuple(int(0, 255), int(0, 255), int(0, 255)));
const text = () => opt(str({ allowEmpty: true, maxLength: 200 }));
/** An array or typed array of `length` numbers; `special` allows NaN and ±Infinity. */
const numbers = (length: number, value = num({ anyNumber: true })) =>
  arr(value, { minLength: length, maxLength: length, typed: [Float32Array, Float64Array] });

export async function plotGroup(): Promise<Group> {
  const dir = scratchDir('plot');
  const points = () => grid(5, [2]);
  const file = path.join(dir, 'file.txt');
  fs.writeFileSync(file, 'a file\n');
  const png = plot.curvesPng([{ name: 'loss', x: [1, 2, 3], y: [3, 2, 1] }]);
  const energies = custom(
    (v) =>
      (Array.isArray(v) || v instanceof Float32Array || v instanceof Float64Array) &&
      v.length === RES * RES &&
      Array.from(v as ArrayLike<unknown>).every((e) => typeof e === 'number' && !Number.isNaN(e) && e !== -Infinity),
    () => [
      Array(RES * RES).fill('1'),
      Float32Array.from({ length: RES * RES }, (_, i) => (i === 3 ? NaN : i)),
      new Float32Array(RES * RES - 1),
    ],
  );
  const counter = { skipped: 0 };
  const entries: Entry[] = [
    entry(
      'densityPng',
      [
        {
          name: 'grid',
          spec: obj({
            values: energies,
            resolution: int(2, 4096, { also: ['values'] }),
            lo: num({ below: 2 }),
            hi: num({ above: -2 }),
          }),
          base: () => ({ values: Array.from({ length: RES * RES }, (_, i) => i / 4), resolution: RES, lo: -2, hi: 2 }),
        },
        {
          name: 'options',
          spec: opt(
            obj({
              points: opt(tensorSpec({ rowShape: [2] })),
              pointColor: rgb(),
              title: text(),
              size: opt(int(16, 4096)),
              mode: opt(oneOf('density', 'energy')),
            }),
          ),
          base: () => ({ points: points(), size: 32 }),
        },
      ],
      (g, o) => plot.densityPng(g as ebm.plot.DensityGrid, o as ebm.plot.DensityOptions),
    ),
    entry(
      'scatterPng',
      [
        {
          name: 'sets',
          spec: arr(obj({ points: tensorSpec({ rowShape: [2] }), color: rgb(), label: text() }), { minLength: 1 }),
          base: () => [{ points: points(), label: 'a' }],
        },
        {
          name: 'options',
          spec: opt(
            obj({ lo: opt(num({ below: 1 })), hi: opt(num({ above: -1 })), size: opt(int(16, 4096)), title: text() }),
          ),
          base: () => ({ lo: -1, hi: 1, size: 32 }),
        },
      ],
      (s, o) => plot.scatterPng(s as ebm.plot.ScatterSet[], o as ebm.plot.ScatterOptions),
    ),
    entry(
      'curvesPng',
      [
        {
          name: 'series',
          spec: arr(obj({ name: str({ allowEmpty: true }), x: numbers(3), y: numbers(3) }), { minLength: 1 }),
          base: () => [{ name: 'loss', x: [1, 2, 3], y: [3, 2, 1] }],
        },
        {
          name: 'options',
          spec: opt(
            obj({
              width: opt(int(128, 4096)),
              height: opt(int(96, 4096)),
              title: text(),
              logY: opt(bool()),
              xLabel: text(),
              yLabel: text(),
            }),
          ),
          base: () => ({ width: 128, height: 96 }),
        },
      ],
      (s, o) => plot.curvesPng(s as ebm.plot.CurveSeries[], o as ebm.plot.CurvesOptions),
      { alsoNames: ['series[0].x', 'series[0].y'] },
    ),
    entry(
      'imageGridPng',
      [
        tensorArg('images', () => grid(2, [1, 4, 4]), { rowShape: [1, 4, 4], finite: true }),
        {
          name: 'options',
          spec: opt(
            obj({
              columns: opt(int(1, 4096)),
              scale: opt(int(1, 64)),
              range: opt(tuple(num({ below: 1, double: true }), num({ above: -1, double: true }))),
              imageShape: opt(tuple(int(4, 4), int(4, 4))),
            }),
          ),
          base: () => ({ columns: 2, scale: 1, range: [-1, 1] }),
        },
      ],
      (x, o) => plot.imageGridPng(x as ebm.Tensor, o as ebm.plot.ImageGridOptions),
      { alsoNames: ['images'] },
    ),
    entry(
      'writePng',
      [
        { name: 'path', spec: writablePath(dir), base: () => path.join(dir, 'out.png'), namedByValue: true },
        {
          name: 'png',
          spec: custom(
            (v) => v instanceof Uint8Array,
            () => [Array.from(png.subarray(0, 8)), new Uint16Array(4)],
          ),
          base: () => png,
        },
      ],
      (p, b) => plot.writePng(p as string, b as Buffer),
    ),
    entry(
      'Canvas',
      [
        { name: 'width', spec: int(1, 16384), base: () => 4 },
        { name: 'height', spec: int(1, 16384), base: () => 4 },
        { name: 'background', spec: rgb(), base: () => [0, 0, 0] },
      ],
      (w, h, b) => new plot.Canvas(w as number, h as number, b as ebm.plot.Rgb),
    ),
    entry(
      'textWidth',
      [
        { name: 'text', spec: str({ allowEmpty: true }), base: () => 'abc' },
        { name: 'scale', spec: opt(int(1, 64)), base: () => 2 },
      ],
      (t, s) => plot.textWidth(t as string, s as number),
    ),
    entry(
      'fitText',
      [
        { name: 'text', spec: str({ allowEmpty: true }), base: () => 'abcdef' },
        { name: 'maxWidth', spec: num({ min: 0 }), base: () => 10 },
        { name: 'scale', spec: opt(int(1, 64)), base: () => 1 },
      ],
      (t, w, s) => plot.fitText(t as string, w as number, s as number),
    ),
    entry('sequential', [{ name: 't', spec: num({ anyNumber: true }), base: () => 0.5 }], (t) =>
      plot.sequential(t as number),
    ),
    entry('diverging', [{ name: 't', spec: num({ anyNumber: true }), base: () => 0.5 }], (t) =>
      plot.diverging(t as number),
    ),
    entry(
      'interpolateStops',
      [
        {
          name: 'stops',
          spec: arr(obj({ at: num({ min: 0, max: 1 }), color: tuple(int(0, 255), int(0, 255), int(0, 255)) }), {
            minLength: 1,
            rule: (s) => (s as Array<{ at: number }>).every((x, i, a) => i === 0 || a[i - 1].at < x.at),
          }),
          base: () => [
            { at: 0, color: [0, 0, 0] },
            { at: 1, color: [255, 255, 255] },
          ],
        },
        fixed('t', () => 0.5),
      ],
      (s, t) => plot.interpolateStops(s as ebm.plot.ColorStop[], t as number),
    ),
    entry(
      'colormapTable',
      [
        { name: 'map', spec: fn(), base: () => plot.sequential },
        { name: 'n', spec: opt(int(1, 65536)), base: () => 4 },
      ],
      (m, n) => plot.colormapTable(m as ebm.plot.Colormap, n as number),
    ),
    entry('categorical', [{ name: 'i', spec: int(-9e15), base: () => 3 }], (i) => plot.categorical(i as number)),
    entry(
      'RunLog',
      [
        {
          name: 'dir',
          // any folder that can be made is valid (and not run); one under a file cannot
          spec: custom(
            (v) => typeof v === 'string' && v !== '' && !v.startsWith(file),
            () => [path.join(file, 'run')],
          ),
          base: () => path.join(dir, 'run'),
          namedByValue: true,
        },
        fixed('config', () => ({})),
      ],
      (d, c) => new ebm.RunLog(d as string, c),
    ),
    entry(
      'writeFileAtomic',
      [
        { name: 'path', spec: writablePath(dir), base: () => path.join(dir, 'atomic.txt'), namedByValue: true },
        {
          name: 'contents',
          spec: union(
            str({ allowEmpty: true }),
            custom(
              (v) => v instanceof Uint8Array,
              () => [],
            ),
            arr(
              custom(
                (v) => v instanceof Uint8Array,
                () => [[1, 2]],
              ),
            ),
          ),
          base: () => 'text',
        },
        fixed('what', () => 'file'),
      ],
      (p, c, w) => ebm.writeFileAtomic(p as string, c as string, w as string),
    ),
  ];
  return {
    cases: entries.flatMap((e) => casesOf(e, counter)),
    skipped: counter.skipped,
    probe: () => [
      plot.curvesPng([{ name: 'a', x: [1, 2], y: [2, 1] }]),
      plot.imageGridPng(grid(2, [1, 4, 4])),
      plot.sequential(0.3),
    ],
  };
}
