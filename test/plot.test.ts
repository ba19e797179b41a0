import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { EbmConfigError, EbmIoError, EbmNumericsError, EbmShapeError } from '../lib/errors';
import { curvesPng, densityPng, imageGridPng, scatterPng, writePng } from '../lib/plot';
import { tensor } from '../lib/tensor';
import { rejectsWith, tmpDir } from './helpers';

interface Image {
  width: number;
  height: number;
  px(x: number, y: number): [number, number, number, number];
}

function decode(buf: Buffer): Image {
  assert.ok(Buffer.isBuffer(buf), 'expected a Buffer');
  const png = PNG.sync.read(buf);
  return {
    width: png.width,
    height: png.height,
    px: (x, y) => {
      const i = (y * png.width + x) * 4;
      return [png.data[i], png.data[i + 1], png.data[i + 2], png.data[i + 3]];
    },
  };
}

const isFrame = ([r, g, b]: number[]): boolean => r === g && g === b && r < 128;

/** The plot area's interior [x0, x1) × [y0, y1), found by walking from (x, y) out to the grey frame. */
function findPlotArea(img: Image, x: number, y: number): { x0: number; x1: number; y0: number; y1: number } {
  let x0 = x;
  while (x0 > 0 && !isFrame(img.px(x0 - 1, y))) x0--;
  let x1 = x;
  while (x1 < img.width - 1 && !isFrame(img.px(x1, y))) x1++;
  let y0 = y;
  while (y0 > 0 && !isFrame(img.px(x, y0 - 1))) y0--;
  let y1 = y;
  while (y1 < img.height - 1 && !isFrame(img.px(x, y1))) y1++;
  return { x0, x1, y0, y1 };
}

/** Energies of an isotropic Gaussian bump on the cell-centred grid used by metrics.gridEnergy. */
function bump(cx: number, cy: number, sd: number, res: number, lo: number, hi: number): Float32Array {
  const h = (hi - lo) / res;
  const e = new Float32Array(res * res);
  for (let iy = 0; iy < res; iy++) {
    for (let ix = 0; ix < res; ix++) {
      const x = lo + (ix + 0.5) * h;
      const y = lo + (iy + 0.5) * h;
      e[iy * res + ix] = ((x - cx) ** 2 + (y - cy) ** 2) / (2 * sd * sd);
    }
  }
  return e;
}

const sum = (p: number[]): number => p[0] + p[1] + p[2];

describe('plot: PNG pictures', () => {
  const grid = { values: bump(1, -1, 0.5, 80, -4, 4), resolution: 80, lo: -4, hi: 4 };

  describe('densityPng', () => {
    it('puts the brightest pixel at the bump centre (1, -1), with the y axis pointing up', () => {
      const img = decode(densityPng(grid, { size: 200, title: 'bump' }));
      const area = findPlotArea(img, Math.floor(img.width / 2), Math.floor(img.height / 2));
      assert.equal(area.x1 - area.x0, 200, 'plot area width');
      assert.equal(area.y1 - area.y0, 200, 'plot area height');
      assert.ok(img.width > 200 && img.height > 200, 'margins hold labels and the colour bar');
      let best = -1;
      const at: Array<[number, number]> = [];
      for (let y = area.y0; y < area.y1; y++) {
        for (let x = area.x0; x < area.x1; x++) {
          const v = sum(img.px(x, y));
          if (v > best) [best, at.length] = [v, 0];
          if (v === best) at.push([x, y]);
        }
      }
      // (1, -1) on [-4, 4]: 5/8 of the way right and 5/8 of the way down
      const ex = area.x0 + 125;
      const ey = area.y0 + 125;
      for (const [x, y] of at) {
        assert.ok(
          Math.abs(x - ex) <= 4 && Math.abs(y - ey) <= 4,
          `brightest pixel (${x}, ${y}) is far from (${ex}, ${ey})`,
        );
      }
      // the mirror image (1, +1) is dark, so the picture is not upside down
      assert.ok(sum(img.px(ex, area.y0 + 75)) < best - 200, 'the point (1, 1) should be dark');
    });

    it('energy mode shows the well dark and the corners bright', () => {
      const img = decode(densityPng(grid, { size: 120, mode: 'energy' }));
      const area = findPlotArea(img, Math.floor(img.width / 2), Math.floor(img.height / 2));
      assert.equal(area.x1 - area.x0, 120);
      const centre = sum(img.px(area.x0 + 75, area.y0 + 75));
      const corner = sum(img.px(area.x0 + 2, area.y0 + 2));
      assert.ok(centre < 200, `the energy minimum should be dark, got ${centre}`);
      assert.ok(corner > 450, `high energy should be bright, got ${corner}`);
    });

    it('overlays points in their colour at the right pixel', () => {
      const points = tensor([-2, 2, 3, 3], [2, 2]);
      const plain = decode(densityPng(grid, { size: 200 }));
      const img = decode(densityPng(grid, { size: 200, points, pointColor: [255, 0, 0] }));
      assert.equal(img.width, plain.width);
      const area = findPlotArea(plain, Math.floor(plain.width / 2), Math.floor(plain.height / 2));
      for (const [x, y] of [
        [-2, 2],
        [3, 3],
      ]) {
        const p = img.px(area.x0 + ((x + 4) / 8) * 200, area.y0 + ((4 - y) / 8) * 200);
        assert.ok(p[0] > 150 && p[0] - p[1] > 80 && p[0] - p[2] > 60, `point (${x}, ${y}) should be red, got ${p}`);
        const q = plain.px(area.x0 + ((x + 4) / 8) * 200, area.y0 + ((4 - y) / 8) * 200);
        assert.ok(q[0] < 100, `without points the pixel is not red, got ${q}`);
      }
      // far from both points nothing changed
      assert.deepEqual(img.px(area.x0 + 20, area.y0 + 180), plain.px(area.x0 + 20, area.y0 + 180));
    });

    it('rejects bad grids and options with the right error class', async () => {
      const bad = (g: object, o?: object) => () => densityPng(g as never, o as never);
      await rejectsWith(bad({ ...grid, values: new Float32Array(10) }), EbmShapeError, /grid\.values has 10 values/);
      await rejectsWith(bad(grid, { size: 0 }), EbmConfigError, /options\.size must be >= 16/);
      await rejectsWith(bad(grid, { size: 5000 }), EbmConfigError, /options\.size must be <= 4096/);
      await rejectsWith(
        bad({ ...grid, values: new Float32Array(6400).fill(NaN) }),
        EbmNumericsError,
        /grid\.values\[0\].*NaN/,
      );
      await rejectsWith(
        bad({ ...grid, values: new Float32Array(6400).fill(Infinity) }),
        EbmNumericsError,
        /no finite energy/,
      );
      await rejectsWith(bad({ ...grid, hi: -4 }), EbmConfigError, /grid\.hi must be > grid\.lo/);
      await rejectsWith(bad({ ...grid, resolution: 1.5 }), EbmConfigError, /grid\.resolution must be an integer/);
      await rejectsWith(
        bad(grid, { points: tensor([1, 2, 3], [1, 3]) }),
        EbmShapeError,
        /options\.points must have shape \[N, 2\]/,
      );
      await rejectsWith(bad(grid, { pointColor: [255, 0] }), EbmConfigError, /options\.pointColor must be \[r, g, b\]/);
      await rejectsWith(bad(grid, { mode: 'log' }), EbmConfigError, /options\.mode must be one of 'density', 'energy'/);
      await rejectsWith(bad(grid, { colour: 'red' }), EbmConfigError, /options\.colour is not a known option/);
    });
  });

  describe('scatterPng', () => {
    it('draws each set in its colour at its coordinates, with a legend', () => {
      const sets = [
        { points: tensor([-1, 1], [1, 2]), color: [255, 0, 0] as [number, number, number], label: 'red' },
        { points: tensor([1, -1], [1, 2]), color: [0, 0, 255] as [number, number, number], label: 'blue' },
      ];
      const img = decode(scatterPng(sets, { lo: -2, hi: 2, size: 200, title: 'two sets' }));
      const area = findPlotArea(img, 100, 120);
      assert.equal(area.x1 - area.x0, 200);
      assert.equal(area.y1 - area.y0, 200);
      const red = img.px(area.x0 + 50, area.y0 + 50);
      const blue = img.px(area.x0 + 150, area.y0 + 150);
      assert.ok(red[0] > 150 && red[2] < 120, `(-1, 1) should be red, got ${red}`);
      assert.ok(blue[2] > 150 && blue[0] < 120, `(1, -1) should be blue, got ${blue}`);
      // the legend, right of the plot area, holds a red and a blue marker
      let legendRed = 0;
      let legendBlue = 0;
      for (let y = 0; y < img.height; y++) {
        for (let x = area.x1 + 1; x < img.width; x++) {
          const [r, g, b] = img.px(x, y);
          if (r > 200 && g < 80 && b < 80) legendRed++;
          if (b > 200 && r < 80 && g < 80) legendBlue++;
        }
      }
      assert.ok(legendRed > 5 && legendBlue > 5, `legend markers: ${legendRed} red, ${legendBlue} blue pixels`);
    });

    it('chooses the range from the data when lo/hi are absent', () => {
      const points = tensor([10, 10, 20, 20, NaN, 0], [3, 2]);
      const img = decode(scatterPng([{ points }], { size: 100 }));
      assert.ok(img.width > 100 && img.height > 100);
      let coloured = 0;
      for (let y = 0; y < img.height; y++) {
        for (let x = 0; x < img.width; x++) {
          const [r, g, b] = img.px(x, y);
          if (Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
        }
      }
      assert.ok(coloured > 4, 'the two finite points are drawn');
    });

    it('rejects bad input', async () => {
      await rejectsWith(() => scatterPng([]), EbmConfigError, /sets must be a non-empty array/);
      await rejectsWith(
        () => scatterPng([{ points: tensor([1, 2, 3], [3]) }]),
        EbmShapeError,
        /sets\[0\]\.points must have shape \[N, 2\]/,
      );
      await rejectsWith(
        () => scatterPng([{ points: tensor([NaN, NaN], [1, 2]) }]),
        EbmNumericsError,
        /no finite point/,
      );
      await rejectsWith(
        () => scatterPng([{ points: tensor([0, 0], [1, 2]) }], { lo: 1, hi: 1 }),
        EbmConfigError,
        /options\.hi must be > options\.lo/,
      );
      await rejectsWith(
        () => scatterPng([{ points: tensor([0, 0], [1, 2]) }], { size: 8 }),
        EbmConfigError,
        /options\.size must be >= 16/,
      );
    });
  });

  describe('curvesPng', () => {
    const blue = [31, 119, 180];
    const isSeries = (p: number[]): boolean => p[0] === blue[0] && p[1] === blue[1] && p[2] === blue[2];

    it('draws a decreasing line higher on the left than on the right', () => {
      const x = Array.from({ length: 50 }, (_, i) => i);
      const y = x.map((v) => 50 - v);
      const img = decode(
        curvesPng([{ name: 'loss', x, y }], { width: 400, height: 300, title: 'loss', xLabel: 'step' }),
      );
      assert.equal(img.width, 400);
      assert.equal(img.height, 300);
      // lowest pixel of the series colour per column (the legend swatch sits above the line)
      const lowest: Array<[number, number]> = [];
      for (let cx = 0; cx < img.width; cx++) {
        for (let cy = img.height - 1; cy >= 0; cy--) {
          if (isSeries(img.px(cx, cy))) {
            lowest.push([cx, cy]);
            break;
          }
        }
      }
      assert.ok(lowest.length > 200, `the line spans the plot, found ${lowest.length} columns`);
      const mean = (a: Array<[number, number]>) => a.reduce((s, p) => s + p[1], 0) / a.length;
      const left = mean(lowest.slice(0, 20));
      const rightEnd = mean(lowest.slice(-20));
      assert.ok(left + 150 < rightEnd, `left rows ${left} should be well above right rows ${rightEnd}`);
      // and the drop is steady: each column at or below the previous one (±2 px anti-aliasing)
      for (let i = 1; i < lowest.length; i++) assert.ok(lowest[i][1] >= lowest[i - 1][1] - 2);
    });

    it('skips non-finite points and supports a log y axis', () => {
      const x = [0, 1, 2, 3, 4, 5];
      const y = [1, NaN, 0.1, Infinity, 0.01, -1];
      const img = decode(curvesPng([{ name: 'a', x, y }], { logY: true, yLabel: 'loss' }));
      assert.equal(img.width, 640);
      assert.equal(img.height, 400);
      let n = 0;
      for (let py = 0; py < img.height; py++) for (let px = 0; px < img.width; px++) if (isSeries(img.px(px, py))) n++;
      assert.ok(n > 300, `line drawn (${n} pixels)`);
    });

    it('rejects bad input', async () => {
      await rejectsWith(() => curvesPng([]), EbmConfigError, /series must be a non-empty array/);
      await rejectsWith(
        () => curvesPng([{ name: 'a', x: [1, 2, 3], y: [1, 2] }]),
        EbmShapeError,
        /series\[0\]\.x has 3 values but series\[0\]\.y has 2/,
      );
      await rejectsWith(() => curvesPng([{ name: 'a', x: [1, 2], y: [NaN, NaN] }]), EbmNumericsError, /no finite/);
      await rejectsWith(
        () => curvesPng([{ name: 'a', x: [1, 2], y: [0, -1] }], { logY: true }),
        EbmNumericsError,
        /y > 0/,
      );
      await rejectsWith(
        () => curvesPng([{ name: 'a', x: [1], y: [1] }], { width: 0 }),
        EbmConfigError,
        /options\.width must be >= 128/,
      );
      await rejectsWith(
        () => curvesPng([{ x: [1], y: [1] } as never]),
        EbmConfigError,
        /series\[0\]\.name must be a string/,
      );
    });
  });

  describe('imageGridPng', () => {
    // image k, pixel (i, j) = 4k + 2i + j: sixteen distinct levels 0..15
    const data = Float32Array.from({ length: 16 }, (_, v) => v);

    it('tiles four 2×2 images ×10 with 1-pixel gaps and known grey levels', () => {
      const img = decode(imageGridPng(tensor(data, [4, 2, 2]), { scale: 10 }));
      assert.equal(img.width, 41);
      assert.equal(img.height, 41);
      for (let k = 0; k < 4; k++) {
        const ox = (k % 2) * 21;
        const oy = Math.floor(k / 2) * 21;
        for (let i = 0; i < 2; i++) {
          for (let j = 0; j < 2; j++) {
            const level = Math.round(((4 * k + 2 * i + j) * 255) / 15);
            for (const [dx, dy] of [
              [1, 1],
              [5, 5],
              [8, 8],
            ]) {
              const p = img.px(ox + j * 10 + dx, oy + i * 10 + dy);
              assert.deepEqual(p, [level, level, level, 255], `image ${k} pixel (${i}, ${j})`);
            }
          }
        }
      }
      assert.deepEqual(img.px(20, 5), [128, 128, 128, 255], 'the gap between tiles');
      assert.deepEqual(img.px(5, 20), [128, 128, 128, 255], 'the gap between rows');
    });

    it('reads [N, 1, H, W] and flat [N, H*W] the same way, and honours range and columns', () => {
      const a = imageGridPng(tensor(data, [4, 2, 2]), { scale: 3 });
      assert.ok(a.equals(imageGridPng(tensor(data, [4, 1, 2, 2]), { scale: 3 })));
      assert.ok(a.equals(imageGridPng(tensor(data, [4, 4]), { scale: 3, imageShape: [2, 2] })));
      const row = decode(imageGridPng(tensor(data, [4, 2, 2]), { scale: 1, columns: 4, range: [0, 30] }));
      assert.equal(row.width, 4 * 2 + 3);
      assert.equal(row.height, 2);
      const level = Math.round((12 * 255) / 30); // image 3, pixel (0, 0)
      assert.deepEqual(row.px(9, 0), [level, level, level, 255]);
    });

    it('shows [N, 3, H, W] as colour', () => {
      const img = decode(imageGridPng(tensor([1, 0, 0.5], [1, 3, 1, 1]), { scale: 2, range: [0, 1] }));
      assert.equal(img.width, 2);
      assert.deepEqual(img.px(1, 1), [255, 0, 128, 255]);
    });

    it('rejects bad input', async () => {
      await rejectsWith(() => imageGridPng(tensor(data, [4, 4])), EbmShapeError, /options\.imageShape/);
      await rejectsWith(
        () => imageGridPng(tensor(data, [4, 4]), { imageShape: [3, 3] }),
        EbmShapeError,
        /needs 9 \(grayscale\) or 27 \(RGB\)/,
      );
      await rejectsWith(() => imageGridPng(tensor(data, [1, 2, 2, 4])), EbmShapeError, /images must have shape/);
      await rejectsWith(() => imageGridPng(tensor(data, [16])), EbmShapeError, /images must have shape/);
      await rejectsWith(() => imageGridPng(tensor(data, [4, 2, 2]), { scale: 0 }), EbmConfigError, /options\.scale/);
      await rejectsWith(
        () => imageGridPng(tensor(data, [4, 2, 2]), { range: [1, 0] }),
        EbmConfigError,
        /options\.range must be \[low, high\]/,
      );
      await rejectsWith(
        () => imageGridPng(tensor([NaN, 0, 0, 0], [1, 2, 2])),
        EbmNumericsError,
        /images contains a non-finite value/,
      );
      await rejectsWith(
        () => imageGridPng(tensor(new Float32Array(4 * 64 * 64), [4, 64, 64]), { scale: 64 }),
        EbmConfigError,
        /would be 8193×8193 pixels/,
      );
    });
  });

  describe('writePng', () => {
    const png = imageGridPng(
      tensor(
        Float32Array.from({ length: 16 }, (_, v) => v),
        [4, 2, 2],
      ),
    );

    it('writes the bytes atomically and leaves no temporary file', () => {
      const dir = tmpDir();
      const file = path.join(dir, 'grid.png');
      writePng(file, png);
      writePng(file, png); // overwrites
      assert.deepEqual(fs.readdirSync(dir), ['grid.png']);
      assert.ok(fs.readFileSync(file).equals(png));
    });

    it('fails with EbmIoError naming the path', async () => {
      const dir = tmpDir();
      const missing = path.join(dir, 'no-such-dir', 'a.png');
      await rejectsWith(() => writePng(missing, png), EbmIoError, /cannot write PNG .*no-such-dir.*a\.png/);
      // a directory in the way: the rename fails and the temporary file is removed
      fs.mkdirSync(path.join(dir, 'taken.png'));
      await rejectsWith(() => writePng(path.join(dir, 'taken.png'), png), EbmIoError, /taken\.png/);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['taken.png']);
      await rejectsWith(() => writePng('', png), EbmConfigError, /path must be a non-empty string/);
    });
  });
});
