/** Density maps: exp(-E) or E on a 2D grid, with a colour bar and optional points. */
import { Canvas, Rgb, WHITE } from './canvas';
import { colormapTable, sequential } from './colormap';
import {
  bottomMargin,
  Box,
  drawDots,
  drawFrame,
  drawTitle,
  drawXTicks,
  drawYTicks,
  formatNumber,
  FRAME,
  INK,
  leftMargin,
  maxWidth,
  style,
  Style,
  textScale,
  Tick,
  titleScale,
  topMargin,
} from './axes';
import { colorOption, intOption, isArrayLike, optionsObject, textOption } from './options';
import { EbmConfigError, EbmNumericsError, EbmShapeError } from '../errors';
import { checkRows, checkTensor, Tensor } from '../tensor';
import { checkNumber, checkOneOf, describeValue, rejectUnknownKeys, requireObject } from '../validate';

/** Energies on a cell-centred square grid, as returned by metrics.gridEnergy. */
export interface DensityGrid {
  /** row-major, index iy * resolution + ix; iy = 0 is y = lo (the bottom), ix = 0 is x = lo */
  values: ArrayLike<number>;
  resolution: number;
  lo: number;
  hi: number;
}

export interface DensityOptions {
  /** [N, 2] points drawn as small translucent dots */
  points?: Tensor;
  /** default red [228, 26, 28] */
  pointColor?: [number, number, number];
  title?: string;
  /** side of the square plot area in pixels, 16..4096 (default 400); margins come on top */
  size?: number;
  /** 'density' (default): exp(-E) normalised over the box; 'energy': E clipped to its 1st..99th percentile */
  mode?: 'density' | 'energy';
}

const DEFAULT_POINT: Rgb = [228, 26, 28];

/** Ticks for lo, 0 (when inside) and hi. */
function boxTicks(lo: number, hi: number): Tick[] {
  const values = lo < 0 && hi > 0 ? [lo, 0, hi] : [lo, hi];
  return values.map((v) => ({ at: v, label: formatNumber(v) }));
}

/** A checked grid: `values` holds resolution² entries, still to be checked one by one. */
interface Field {
  values: ArrayLike<unknown>;
  res: number;
  lo: number;
  hi: number;
}

/** The colour of each cell as t in [0, 1], and the values the colour bar's ends stand for. */
interface Shading {
  t: Float32Array;
  barLo: number;
  barHi: number;
}

/** Sizes of the colour bar beside the plot: the gap before it and its width, in pixels. */
interface Bar {
  gap: number;
  width: number;
}

/** Checks the grid's keys, box and length (the values themselves come in energyRange). */
function checkGrid(grid: DensityGrid): Field {
  const g = requireObject(grid, 'grid');
  rejectUnknownKeys(g, ['values', 'resolution', 'lo', 'hi'], 'grid');
  const lo = checkNumber(g.lo, 'grid.lo');
  const hi = checkNumber(g.hi, 'grid.hi');
  if (!(hi > lo)) throw new EbmConfigError(`grid.hi must be > grid.lo, got [${lo}, ${hi}]`);
  const res = checkNumber(g.resolution, 'grid.resolution', { integer: true, min: 2, max: 4096 });
  const values = g.values;
  if (!isArrayLike(values)) throw new EbmShapeError('grid.values must be an array or typed array of numbers');
  if (values.length !== res * res) {
    throw new EbmShapeError(
      `grid.values has ${values.length} values but grid.resolution ${res} needs ${res * res} (resolution²)`,
    );
  }
  return { values, res, lo, hi };
}

/**
 * The lowest and highest finite energy; throws for a non-number, NaN or -Infinity (naming the
 * cell's centre) and when every cell is +Infinity.
 */
function energyRange(f: Field): { emin: number; emax: number } {
  const { values, res, lo, hi } = f;
  const n = res * res;
  const cellSize = (hi - lo) / res;
  let emin = Infinity;
  let emax = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v !== 'number') throw new EbmConfigError(`grid.values[${i}] must be a number, got ${describeValue(v)}`);
    if (Number.isNaN(v) || v === -Infinity) {
      const x = lo + ((i % res) + 0.5) * cellSize;
      const y = lo + (Math.floor(i / res) + 0.5) * cellSize;
      throw new EbmNumericsError(
        `grid.values[${i}] (x = ${formatNumber(x)}, y = ${formatNumber(y)}) is ${v}; energies must be finite or +Infinity`,
      );
    }
    if (v !== Infinity) {
      emin = Math.min(emin, v);
      emax = Math.max(emax, v);
    }
  }
  if (emin === Infinity) throw new EbmNumericsError('grid.values has no finite energy (all +Infinity)');
  return { emin, emax };
}

/** Energies → t in [0, 1] per cell, as a density exp(-E) or as E clipped to its 1st..99th percentile. */
function shade(f: Field, mode: 'density' | 'energy', emin: number, emax: number): Shading {
  const { values, res, lo, hi } = f;
  const n = res * res;
  const cellSize = (hi - lo) / res;
  const t = new Float32Array(n);
  let barLo: number;
  let barHi: number;
  if (mode === 'density') {
    let z = 0;
    for (let i = 0; i < n; i++) {
      const p = Math.exp(-(Number(values[i]) - emin));
      t[i] = p;
      z += p;
    }
    // the peak cell has p = 1, so t already spans [0, 1]; the bar shows the normalised density
    barLo = 0;
    barHi = 1 / (z * cellSize * cellSize);
  } else {
    const sorted = Float64Array.from({ length: n }, (_, i) => Number(values[i])).sort();
    const q = (p: number): number => {
      const v = sorted[Math.round(p * (n - 1))];
      return v === Infinity ? emax : v;
    };
    barLo = q(0.01);
    barHi = q(0.99);
    if (!(barHi > barLo)) [barLo, barHi] = [emin, emax];
    if (!(barHi > barLo)) [barLo, barHi] = [emin - 0.5, emin + 0.5];
    for (let i = 0; i < n; i++) {
      const u = (Number(values[i]) - barLo) / (barHi - barLo);
      t[i] = u < 0 ? 0 : u > 1 ? 1 : u;
    }
  }
  return { t, barLo, barHi };
}

/** Paints the cells' colours into `box`, bilinear between cell centres, y upwards. */
function paintField(c: Canvas, box: Box, t: Float32Array, res: number, lut: Uint8Array): void {
  const size = box.w;
  const ix0 = new Int32Array(size);
  const ix1 = new Int32Array(size);
  const fx = new Float32Array(size);
  for (let p = 0; p < size; p++) {
    const u = Math.min(res - 1, Math.max(0, ((p + 0.5) / size) * res - 0.5));
    ix0[p] = Math.floor(u);
    ix1[p] = Math.min(res - 1, ix0[p] + 1);
    fx[p] = u - ix0[p];
  }
  const d = c.data;
  for (let py = 0; py < size; py++) {
    // row py counts down from the top; grid row iy counts up from y = lo
    const v = Math.min(res - 1, Math.max(0, ((size - py - 0.5) / size) * res - 0.5));
    const iy0 = Math.floor(v);
    const iy1 = Math.min(res - 1, iy0 + 1);
    const fy = v - iy0;
    for (let px = 0; px < size; px++) {
      const a = t[iy0 * res + ix0[px]] * (1 - fx[px]) + t[iy0 * res + ix1[px]] * fx[px];
      const b = t[iy1 * res + ix0[px]] * (1 - fx[px]) + t[iy1 * res + ix1[px]] * fx[px];
      const k = 3 * Math.round((a * (1 - fy) + b * fy) * 1023);
      const o4 = ((box.y + py) * c.width + box.x + px) * 4;
      d[o4] = lut[k];
      d[o4 + 1] = lut[k + 1];
      d[o4 + 2] = lut[k + 2];
    }
  }
}

/** The colour bar right of `box`, high values at the top, with its three labels and caption. */
function drawColourBar(
  c: Canvas,
  box: Box,
  lut: Uint8Array,
  barTicks: string[],
  caption: string,
  bar: Bar,
  st: Style,
): void {
  const { s } = st;
  const size = box.h;
  const bx = box.x + size + 1 + bar.gap;
  for (let r = 0; r < size; r++) {
    const k = 3 * Math.round((1 - (r + 0.5) / size) * 1023);
    c.fillRect(bx, box.y + r, bar.width, 1, [lut[k], lut[k + 1], lut[k + 2]]);
  }
  const frame: Box = { x: bx, y: box.y, w: bar.width, h: size };
  drawFrame(c, frame);
  const labelX = bx + bar.width + 1 + st.tick + st.pad;
  barTicks.forEach((label, i) => {
    const row = Math.min(frame.y + size - 1, Math.max(frame.y, Math.floor(frame.y + (1 - i / 2) * size)));
    c.fillRect(bx + bar.width + 1, row, st.tick, 1, FRAME);
    const ty = Math.min(c.height - st.line, Math.max(0, Math.round(row + 0.5 - st.cap / 2)));
    c.text(labelX, ty, label, INK, { scale: s });
  });
  const capX = labelX + maxWidth(barTicks, s) + 2 * st.pad;
  c.text(capX, frame.y + size / 2, caption, INK, { scale: s, vertical: true, align: 'center' });
}

/**
 * A 2D density exp(-E) (or the energy E itself) on a grid as a colour image, y axis upwards,
 * with a colour bar, tick labels and optional points. Throws EbmShapeError / EbmConfigError for
 * bad input and EbmNumericsError for NaN or -Infinity energies (+Infinity means zero density).
 */
export function densityPng(grid: DensityGrid, options?: DensityOptions): Buffer {
  const field = checkGrid(grid);
  const { res, lo, hi } = field;
  const o = optionsObject(options, ['points', 'pointColor', 'title', 'size', 'mode']);
  const size = intOption(o, 'size', 400, 16, 4096);
  const mode = o.mode === undefined ? 'density' : checkOneOf(o.mode, ['density', 'energy'] as const, 'options.mode');
  const title = textOption(o, 'title');
  const pointColor = colorOption(o.pointColor, 'options.pointColor') ?? DEFAULT_POINT;
  const points = o.points;
  if (points !== undefined) {
    checkTensor(points, 'options.points');
    checkRows(points, [2], 'options.points');
  }
  const { emin, emax } = energyRange(field);
  const { t, barLo, barHi } = shade(field, mode, emin, emax);

  // layout: the colour bar and its labels sit right of the plot
  const st = style(textScale(size));
  const { s } = st;
  const ts = titleScale(title, s, size);
  const ticks = boxTicks(lo, hi);
  const barTicks = [barLo, (barLo + barHi) / 2, barHi].map(formatNumber);
  const caption = mode === 'density' ? 'density' : 'energy';
  const bar: Bar = { gap: 12 * s, width: 12 * s };
  const left = leftMargin(ticks, st);
  const top = topMargin(title, ts, st);
  const bottom = bottomMargin(st);
  const right = 1 + bar.gap + bar.width + 2 + st.tick + st.pad + maxWidth(barTicks, s) + 2 * st.pad + st.line + 6 * s;
  const c = new Canvas(left + size + right, top + size + bottom, WHITE);
  const box: Box = { x: left, y: top, w: size, h: size };

  const lut = colormapTable(sequential, 1024);
  paintField(c, box, t, res, lut);
  if (points !== undefined) drawDots(c, box, points, lo, hi, pointColor, Math.max(1.5, size / 220));
  drawFrame(c, box);
  const scale = size / (hi - lo);
  drawXTicks(
    c,
    box,
    ticks.map((k) => ({ px: box.x + (k.at - lo) * scale, label: k.label })),
    st,
  );
  drawYTicks(
    c,
    box,
    ticks.map((k) => ({ py: box.y + (hi - k.at) * scale, label: k.label })),
    st,
  );
  drawColourBar(c, box, lut, barTicks, caption, bar, st);
  drawTitle(c, title, box.x + size / 2, ts, st);
  return c.toPng();
}
