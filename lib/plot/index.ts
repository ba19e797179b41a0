/** PNG pictures: 2D densities and energy landscapes, scatter plots, training curves and image grids. */
import { Canvas, FONT_CAP_HEIGHT, FONT_LINE_HEIGHT, Rgb, WHITE, fitText, textWidth } from './canvas';
import { categorical, colormapTable, sequential } from './colormap';
import { EbmConfigError, EbmNumericsError, EbmShapeError } from '../errors';
import { checkFinite, checkRows, checkTensor, rows, Tensor } from '../tensor';
import { checkNumber, checkOneOf, describeValue, Obj, rejectUnknownKeys, requireObject } from '../validate';
import { writeFileAtomic } from '../fsutil';

export { Canvas, textWidth, fitText } from './canvas';
export type { Rgb, StrokeOptions, TextOptions } from './canvas';
export { sequential, diverging, categorical, interpolateStops, colormapTable } from './colormap';
export type { Colormap, ColorStop } from './colormap';

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

export interface ScatterSet {
  /** [N, 2] */
  points: Tensor;
  color?: [number, number, number];
  /** shown in the legend */
  label?: string;
}

export interface ScatterOptions {
  /** axis range (both axes); by default the data's range plus 5% */
  lo?: number;
  hi?: number;
  /** side of the square plot area in pixels, 16..4096 (default 400) */
  size?: number;
  title?: string;
}

export interface CurveSeries {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

export interface CurvesOptions {
  /** whole picture, in pixels: width 128..4096 (default 640), height 96..4096 (default 400) */
  width?: number;
  height?: number;
  title?: string;
  /** logarithmic y axis; points with y <= 0 are skipped */
  logY?: boolean;
  xLabel?: string;
  yLabel?: string;
}

export interface ImageGridOptions {
  /** tiles per row (default ceil(sqrt(N))) */
  columns?: number;
  /** integer magnification 1..64 (default: enough for tiles of about 32 px) */
  scale?: number;
  /** values mapped to 0..255 (default: the data's min..max) */
  range?: [number, number];
  /** [height, width] of each image, needed for flat [N, H*W] (or [N, 3*H*W]) input */
  imageShape?: [number, number];
}

const INK: Rgb = [34, 34, 34];
const FRAME: Rgb = [70, 70, 70];
const GRIDLINE: Rgb = [230, 230, 230];
const DEFAULT_POINT: Rgb = [228, 26, 28];
const TILE_GAP: Rgb = [128, 128, 128];
const MAX_GRID_SIDE = 8192;
const MAX_TEXT = 200;

// ---------------------------------------------------------------- option checks

function optionsObject(value: unknown, known: readonly string[]): Obj {
  if (value === undefined) return {};
  const o = requireObject(value, 'options');
  rejectUnknownKeys(o, known, 'options');
  return o;
}

function intOption(o: Obj, key: string, fallback: number, min: number, max: number): number {
  return o[key] === undefined ? fallback : checkNumber(o[key], `options.${key}`, { integer: true, min, max });
}

function textOption(o: Obj, key: string, path = 'options'): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new EbmConfigError(`${path}.${key} must be a string, got ${describeValue(v)}`);
  if (v.length > MAX_TEXT) throw new EbmConfigError(`${path}.${key} must be at most ${MAX_TEXT} characters`);
  return v;
}

function colorOption(v: unknown, path: string): Rgb | undefined {
  if (v === undefined) return undefined;
  const ok =
    Array.isArray(v) &&
    v.length === 3 &&
    v.every((c) => typeof c === 'number' && Number.isInteger(c) && c >= 0 && c <= 255);
  if (!ok) throw new EbmConfigError(`${path} must be [r, g, b] with integers 0..255, got ${describeValue(v)}`);
  return [v[0], v[1], v[2]];
}

function isArrayLike(v: unknown): v is ArrayLike<number> {
  if (typeof v !== 'object' || v === null) return false;
  const n = (v as { length?: unknown }).length;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0;
}

// ---------------------------------------------------------------- numbers and ticks

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

function expLabel(v: number, digits: number): string {
  const [m, e] = v.toExponential(digits).split('e');
  return `${trimZeros(m)}e${Number(e)}`;
}

/** Short label: about 3 significant digits, exponent form outside [1e-3, 1e5). */
function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return expLabel(v, 2);
  if (a >= 100) return String(Math.round(v));
  return trimZeros(v.toPrecision(3));
}

interface Tick {
  /** position in axis units (log10 of the value on a log axis) */
  at: number;
  label: string;
}

function niceStep(span: number, target: number): number {
  const raw = span / Math.max(1, target);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 2.25 ? 2 : m < 3.5 ? 2.5 : m < 7.5 ? 5 : 10) * p;
}

/** Round-number ticks inside [lo, hi], about `target` of them. */
function linearTicks(lo: number, hi: number, target: number): Tick[] {
  const step = niceStep(hi - lo, target);
  let decimals = 0;
  while (decimals < 15 && Math.abs(step * 10 ** decimals - Math.round(step * 10 ** decimals)) > 1e-6) decimals++;
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  const exponent = Math.max(Math.abs(lo), Math.abs(hi)) >= 1e5 || step < 1e-3;
  const stepPow = Math.floor(Math.log10(step) + 1e-9);
  const stepDigits = Math.abs(step / 10 ** stepPow - 2.5) < 1e-9 ? 1 : 0;
  const ticks: Tick[] = [];
  for (let k = first; k <= last; k++) {
    const v = k * step;
    let label: string;
    if (k === 0) label = '0';
    else if (exponent) {
      const digits = Math.floor(Math.log10(Math.abs(v)) + 1e-9) - stepPow + stepDigits;
      label = expLabel(v, Math.min(8, Math.max(0, digits)));
    } else label = v.toFixed(decimals);
    ticks.push({ at: v, label });
  }
  return ticks;
}

/** Ticks for a log10 axis spanning [lo, hi] in log units: powers of ten, or round values within one decade. */
function logTicks(lo: number, hi: number, target: number): Tick[] {
  const k0 = Math.ceil(lo - 1e-9);
  const k1 = Math.floor(hi + 1e-9);
  if (k1 > k0) {
    const every = Math.max(1, Math.ceil((k1 - k0 + 1) / Math.max(2, target)));
    const ticks: Tick[] = [];
    for (let k = k0; k <= k1; k += every)
      ticks.push({ at: k, label: k >= -3 && k <= 4 ? formatNumber(10 ** k) : `1e${k}` });
    return ticks;
  }
  return linearTicks(10 ** lo, 10 ** hi, Math.min(4, target))
    .filter((t) => t.at > 0)
    .map((t) => ({ at: Math.log10(t.at), label: t.label }));
}

// ---------------------------------------------------------------- layout pieces

/** Integer text magnification for a picture of this size. */
function textScale(side: number): number {
  return Math.max(1, Math.round(side / 500));
}

/** The plot area: interior pixels [x, x+w) × [y, y+h); the frame is drawn just outside it. */
interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

interface Style {
  s: number;
  tick: number;
  pad: number;
  cap: number;
  line: number;
}

function style(s: number): Style {
  return { s, tick: 4 * s, pad: 3 * s, cap: FONT_CAP_HEIGHT * s, line: FONT_LINE_HEIGHT * s };
}

const maxWidth = (labels: readonly string[], s: number): number =>
  labels.reduce((m, l) => Math.max(m, textWidth(l, s)), 0);

function drawFrame(c: Canvas, b: Box): void {
  c.strokeRect(b.x - 1, b.y - 1, b.w + 2, b.h + 2, FRAME);
}

/** Tick marks and labels below the box; `px` are continuous pixel positions. */
function drawXTicks(c: Canvas, b: Box, ticks: ReadonlyArray<{ px: number; label: string }>, st: Style): void {
  for (const t of ticks) {
    const col = Math.min(b.x + b.w - 1, Math.max(b.x, Math.floor(t.px)));
    c.fillRect(col, b.y + b.h + 1, 1, st.tick, FRAME);
    const half = textWidth(t.label, st.s) / 2;
    const cx = Math.min(c.width - 1 - half, Math.max(half, col + 0.5));
    c.text(cx, b.y + b.h + 1 + st.tick + st.pad, t.label, INK, { scale: st.s, align: 'center' });
  }
}

/** Tick marks and right-aligned labels left of the box. */
function drawYTicks(c: Canvas, b: Box, ticks: ReadonlyArray<{ py: number; label: string }>, st: Style): void {
  for (const t of ticks) {
    const row = Math.min(b.y + b.h - 1, Math.max(b.y, Math.floor(t.py)));
    c.fillRect(b.x - 1 - st.tick, row, st.tick, 1, FRAME);
    const top = Math.min(c.height - st.line, Math.max(0, Math.round(row + 0.5 - st.cap / 2)));
    c.text(b.x - 1 - st.tick - st.pad, top, t.label, INK, { scale: st.s, align: 'right' });
  }
}

function drawGridLines(c: Canvas, b: Box, xs: readonly number[], ys: readonly number[]): void {
  for (const px of xs) {
    const col = Math.floor(px);
    if (col > b.x && col < b.x + b.w - 1) c.fillRect(col, b.y, 1, b.h, GRIDLINE);
  }
  for (const py of ys) {
    const row = Math.floor(py);
    if (row > b.y && row < b.y + b.h - 1) c.fillRect(b.x, row, b.w, 1, GRIDLINE);
  }
}

/** Title magnification: twice the label scale when there is room. */
function titleScale(title: string | undefined, s: number, room: number): number {
  return title !== undefined && title !== '' && room >= 200 ? 2 * s : s;
}

/** Height the title needs above the plot (0 without one). */
function titleBand(title: string | undefined, ts: number, st: Style): number {
  return title ? 6 * st.s + FONT_CAP_HEIGHT * ts + 8 * st.s : 0;
}

function drawTitle(c: Canvas, title: string | undefined, centre: number, ts: number, st: Style): void {
  if (!title) return;
  let scale = ts;
  if (textWidth(title, scale) > c.width - 8 * st.s) scale = st.s;
  const text = fitText(title, c.width - 8 * st.s, scale);
  const half = textWidth(text, scale) / 2;
  const cx = Math.min(c.width - 4 * st.s - half, Math.max(4 * st.s + half, centre));
  const top = 6 * st.s + Math.round((FONT_CAP_HEIGHT * (ts - scale)) / 2);
  c.text(cx, top, text, INK, { scale, align: 'center' });
}

/** Opacity for N overlaid dots: dense clouds get lighter dots. */
function dotAlpha(n: number): number {
  return Math.min(0.8, Math.max(0.25, 0.85 - 0.12 * Math.log10(Math.max(1, n))));
}

function drawDots(c: Canvas, b: Box, pts: Tensor, lo: number, hi: number, color: Rgb, radius: number): void {
  const n = rows(pts);
  const alpha = dotAlpha(n);
  const k = b.w / (hi - lo);
  c.clip(b.x, b.y, b.w, b.h);
  for (let i = 0; i < n; i++) {
    const x = pts.data[2 * i];
    const y = pts.data[2 * i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    c.fillCircle(b.x + (x - lo) * k, b.y + (hi - y) * k, radius, color, alpha);
  }
  c.clip();
}

/** Ticks for lo, 0 (when inside) and hi. */
function boxTicks(lo: number, hi: number): Tick[] {
  const values = lo < 0 && hi > 0 ? [lo, 0, hi] : [lo, hi];
  return values.map((v) => ({ at: v, label: formatNumber(v) }));
}

// ---------------------------------------------------------------- density

/**
 * A 2D density exp(-E) (or the energy E itself) on a grid as a colour image, y axis upwards,
 * with a colour bar, tick labels and optional points. Throws EbmShapeError / EbmConfigError for
 * bad input and EbmNumericsError for NaN or -Infinity energies (+Infinity means zero density).
 */
export function densityPng(grid: DensityGrid, options?: DensityOptions): Buffer {
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

  // energies → t in [0, 1] per cell
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

  // layout
  const st = style(textScale(size));
  const { s } = st;
  const ts = titleScale(title, s, size);
  const ticks = boxTicks(lo, hi);
  const barTicks = [barLo, (barLo + barHi) / 2, barHi].map(formatNumber);
  const caption = mode === 'density' ? 'density' : 'energy';
  const barGap = 12 * s;
  const barWidth = 12 * s;
  const left =
    6 * s +
    maxWidth(
      ticks.map((k) => k.label),
      s,
    ) +
    st.pad +
    st.tick +
    1;
  const top = Math.max(8 * s, titleBand(title, ts, st));
  const bottom = 1 + st.tick + st.pad + st.line + 6 * s;
  const right = 1 + barGap + barWidth + 2 + st.tick + st.pad + maxWidth(barTicks, s) + 2 * st.pad + st.line + 6 * s;
  const c = new Canvas(left + size + right, top + size + bottom, WHITE);
  const box: Box = { x: left, y: top, w: size, h: size };

  // the field, bilinear between cell centres
  const lut = colormapTable(sequential, 1024);
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

  // colour bar, high values at the top
  const bx = box.x + size + 1 + barGap;
  for (let r = 0; r < size; r++) {
    const k = 3 * Math.round((1 - (r + 0.5) / size) * 1023);
    c.fillRect(bx, box.y + r, barWidth, 1, [lut[k], lut[k + 1], lut[k + 2]]);
  }
  const bar: Box = { x: bx, y: box.y, w: barWidth, h: size };
  drawFrame(c, bar);
  const labelX = bx + barWidth + 1 + st.tick + st.pad;
  barTicks.forEach((label, i) => {
    const row = Math.min(bar.y + size - 1, Math.max(bar.y, Math.floor(bar.y + (1 - i / 2) * size)));
    c.fillRect(bx + barWidth + 1, row, st.tick, 1, FRAME);
    const ty = Math.min(c.height - st.line, Math.max(0, Math.round(row + 0.5 - st.cap / 2)));
    c.text(labelX, ty, label, INK, { scale: s });
  });
  const capX = labelX + maxWidth(barTicks, s) + 2 * st.pad;
  c.text(capX, bar.y + size / 2, caption, INK, { scale: s, vertical: true, align: 'center' });
  drawTitle(c, title, box.x + size / 2, ts, st);
  return c.toPng();
}

// ---------------------------------------------------------------- scatter

/** Point clouds in a square box with round-number ticks and, when sets have labels, a legend. */
export function scatterPng(sets: ScatterSet[], options?: ScatterOptions): Buffer {
  if (!Array.isArray(sets) || sets.length === 0) {
    throw new EbmConfigError('sets must be a non-empty array of { points, color?, label? }');
  }
  const parsed = sets.map((set: unknown, i) => {
    const path = `sets[${i}]`;
    const o = requireObject(set, path);
    rejectUnknownKeys(o, ['points', 'color', 'label'], path);
    const pts = o.points;
    checkTensor(pts, `${path}.points`);
    checkRows(pts, [2], `${path}.points`);
    return {
      points: pts,
      color: colorOption(o.color, `${path}.color`) ?? categorical(i),
      label: textOption(o, 'label', path),
    };
  });
  const o = optionsObject(options, ['lo', 'hi', 'size', 'title']);
  const size = intOption(o, 'size', 400, 16, 4096);
  const title = textOption(o, 'title');
  const userLo = o.lo === undefined ? undefined : checkNumber(o.lo, 'options.lo');
  const userHi = o.hi === undefined ? undefined : checkNumber(o.hi, 'options.hi');
  let lo = userLo ?? 0;
  let hi = userHi ?? 0;
  if (userLo === undefined || userHi === undefined) {
    let min = Infinity;
    let max = -Infinity;
    for (const set of parsed) {
      const d = set.points.data;
      for (let i = 0; i < d.length; i += 2) {
        if (Number.isFinite(d[i]) && Number.isFinite(d[i + 1])) {
          min = Math.min(min, d[i], d[i + 1]);
          max = Math.max(max, d[i], d[i + 1]);
        }
      }
    }
    if (min === Infinity) throw new EbmNumericsError('sets contain no finite point to set the axis range from');
    const margin = max > min ? 0.05 * (max - min) : Math.max(1, Math.abs(min) * 0.1);
    lo = userLo ?? min - margin;
    hi = userHi ?? max + margin;
  }
  if (!(hi > lo)) throw new EbmConfigError(`options.hi must be > options.lo, got lo = ${lo}, hi = ${hi}`);

  const st = style(textScale(size));
  const { s } = st;
  const ts = titleScale(title, s, size);
  const ticks = linearTicks(lo, hi, Math.max(2, Math.round(size / 80)));
  const labelled = parsed.filter((p) => p.label !== undefined && p.label !== '');
  const dot = 3 * s;
  const legendWidth =
    labelled.length > 0
      ? 12 * s +
        2 * dot +
        2 * st.pad +
        maxWidth(
          labelled.map((p) => p.label ?? ''),
          s,
        )
      : 0;
  const left =
    6 * s +
    maxWidth(
      ticks.map((k) => k.label),
      s,
    ) +
    st.pad +
    st.tick +
    1;
  const top = Math.max(8 * s, titleBand(title, ts, st));
  const bottom = 1 + st.tick + st.pad + st.line + 6 * s;
  const lastHalf = ticks.length > 0 ? textWidth(ticks[ticks.length - 1].label, s) / 2 : 0;
  const right = 1 + Math.max(Math.ceil(lastHalf), 8 * s) + legendWidth;
  const c = new Canvas(left + size + right, top + size + bottom, WHITE);
  const box: Box = { x: left, y: top, w: size, h: size };
  const scale = size / (hi - lo);
  const xs = ticks.map((k) => box.x + (k.at - lo) * scale);
  const ys = ticks.map((k) => box.y + (hi - k.at) * scale);
  drawGridLines(c, box, xs, ys);
  const n = parsed.reduce((a, p) => a + rows(p.points), 0);
  for (const set of parsed)
    drawDots(c, box, set.points, lo, hi, set.color, Math.max(1.5, size / 200) * (n > 5000 ? 0.75 : 1));
  drawFrame(c, box);
  drawXTicks(
    c,
    box,
    ticks.map((k, i) => ({ px: xs[i], label: k.label })),
    st,
  );
  drawYTicks(
    c,
    box,
    ticks.map((k, i) => ({ py: ys[i], label: k.label })),
    st,
  );
  const lx = box.x + size + 1 + 12 * s;
  labelled.forEach((set, i) => {
    const y = box.y + i * (st.line + 4 * s);
    c.fillCircle(lx + dot, y + st.cap / 2, dot, set.color);
    c.text(lx + 2 * dot + 2 * st.pad, y, set.label ?? '', INK, { scale: s });
  });
  drawTitle(c, title, box.x + size / 2, ts, st);
  return c.toPng();
}

// ---------------------------------------------------------------- curves

/** Line plots (training curves) with ticks, optional log y axis and a legend; non-finite points are skipped. */
export function curvesPng(series: CurveSeries[], options?: CurvesOptions): Buffer {
  if (!Array.isArray(series) || series.length === 0) {
    throw new EbmConfigError('series must be a non-empty array of { name, x, y }');
  }
  const o = optionsObject(options, ['width', 'height', 'title', 'logY', 'xLabel', 'yLabel']);
  const width = intOption(o, 'width', 640, 128, 4096);
  const height = intOption(o, 'height', 400, 96, 4096);
  const title = textOption(o, 'title');
  const xLabel = textOption(o, 'xLabel');
  const yLabel = textOption(o, 'yLabel');
  if (o.logY !== undefined && typeof o.logY !== 'boolean') {
    throw new EbmConfigError(`options.logY must be true or false, got ${describeValue(o.logY)}`);
  }
  const logY = o.logY === true;

  // finite points per series, y in axis units
  const curves = series.map((item: unknown, i) => {
    const path = `series[${i}]`;
    const so = requireObject(item, path);
    rejectUnknownKeys(so, ['name', 'x', 'y'], path);
    if (typeof so.name !== 'string') {
      throw new EbmConfigError(`${path}.name must be a string, got ${describeValue(so.name)}`);
    }
    const { x, y } = so;
    if (!isArrayLike(x)) throw new EbmShapeError(`${path}.x must be an array or typed array of numbers`);
    if (!isArrayLike(y)) throw new EbmShapeError(`${path}.y must be an array or typed array of numbers`);
    if (x.length !== y.length) {
      throw new EbmShapeError(`${path}.x has ${x.length} values but ${path}.y has ${y.length}; they must match`);
    }
    const px: number[] = [];
    const py: number[] = [];
    for (let k = 0; k < x.length; k++) {
      const xv = x[k];
      const yv = y[k];
      for (const [v, axis] of [
        [xv, 'x'],
        [yv, 'y'],
      ] as const) {
        if (typeof v !== 'number')
          throw new EbmConfigError(`${path}.${axis}[${k}] must be a number, got ${describeValue(v)}`);
      }
      if (!Number.isFinite(xv) || !Number.isFinite(yv) || (logY && yv <= 0)) continue;
      px.push(xv);
      py.push(logY ? Math.log10(yv) : yv);
    }
    return { name: so.name.slice(0, MAX_TEXT), color: categorical(i), xs: px, ys: py };
  });
  let xmin = Infinity;
  let xmax = -Infinity;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (const cv of curves) {
    for (let k = 0; k < cv.xs.length; k++) {
      xmin = Math.min(xmin, cv.xs[k]);
      xmax = Math.max(xmax, cv.xs[k]);
      ymin = Math.min(ymin, cv.ys[k]);
      ymax = Math.max(ymax, cv.ys[k]);
    }
  }
  if (xmin === Infinity) {
    throw new EbmNumericsError(`series have no finite (x, y) point to plot${logY ? ' with y > 0 (logY)' : ''}`);
  }
  if (!(xmax > xmin))
    [xmin, xmax] = [xmin - Math.max(0.5, Math.abs(xmin) * 0.05), xmax + Math.max(0.5, Math.abs(xmax) * 0.05)];
  if (ymax > ymin) {
    const m = 0.05 * (ymax - ymin);
    [ymin, ymax] = [ymin - m, ymax + m];
  } else {
    const m = logY ? 0.5 : Math.max(0.5, Math.abs(ymin) * 0.1);
    [ymin, ymax] = [ymin - m, ymax + m];
  }

  const st = style(textScale(Math.min(width, height)));
  const { s } = st;
  const ts = titleScale(title, s, width);
  const top = Math.max(8 * s, titleBand(title, ts, st));
  const bottom = 1 + st.tick + st.pad + st.line + (xLabel ? 2 * st.pad + st.line : 0) + 6 * s;
  const plotH = height - top - bottom - 1;
  const yTicks = logY
    ? logTicks(ymin, ymax, Math.max(2, Math.round(plotH / 50)))
    : linearTicks(ymin, ymax, Math.max(2, Math.round(plotH / 50)));
  const left =
    6 * s +
    (yLabel ? st.line + 2 * st.pad : 0) +
    maxWidth(
      yTicks.map((k) => k.label),
      s,
    ) +
    st.pad +
    st.tick +
    1;
  const xTicks = linearTicks(xmin, xmax, Math.max(2, Math.round((width - left) / 90)));
  const lastHalf = xTicks.length > 0 ? Math.ceil(textWidth(xTicks[xTicks.length - 1].label, s) / 2) : 0;
  const right = 1 + Math.max(12 * s, lastHalf + 2 * s);
  const plotW = width - left - right;
  if (plotW < 16 || plotH < 16) {
    throw new EbmConfigError(
      `options.width ${width} × options.height ${height} leaves a ${plotW}×${plotH} plot area after the labels; make them larger`,
    );
  }
  const c = new Canvas(width, height, WHITE);
  const box: Box = { x: left, y: top, w: plotW, h: plotH };
  const toX = (v: number): number => box.x + ((v - xmin) / (xmax - xmin)) * plotW;
  const toY = (v: number): number => box.y + ((ymax - v) / (ymax - ymin)) * plotH;
  drawGridLines(
    c,
    box,
    xTicks.map((k) => toX(k.at)),
    yTicks.map((k) => toY(k.at)),
  );
  const lineWidth = 2 * s;
  c.clip(box.x, box.y, box.w, box.h);
  for (const cv of curves) {
    const xs = cv.xs.map(toX);
    const ys = cv.ys.map(toY);
    if (xs.length === 1) c.fillCircle(xs[0], ys[0], 2 * lineWidth, cv.color);
    else c.polyline(xs, ys, cv.color, { width: lineWidth });
  }
  c.clip();
  drawFrame(c, box);
  drawXTicks(
    c,
    box,
    xTicks.map((k) => ({ px: toX(k.at), label: k.label })),
    st,
  );
  drawYTicks(
    c,
    box,
    yTicks.map((k) => ({ py: toY(k.at), label: k.label })),
    st,
  );
  if (xLabel) {
    const y = box.y + plotH + 1 + st.tick + st.pad + st.line + 2 * st.pad;
    c.text(box.x + plotW / 2, y, fitText(xLabel, width - 8 * s, s), INK, { scale: s, align: 'center' });
  }
  if (yLabel) {
    c.text(6 * s, box.y + plotH / 2, fitText(yLabel, height - 8 * s, s), INK, {
      scale: s,
      vertical: true,
      align: 'center',
    });
  }
  drawLegend(
    c,
    box,
    curves.filter((cv) => cv.name !== ''),
    st,
  );
  drawTitle(c, title, box.x + plotW / 2, ts, st);
  return c.toPng();
}

/** A legend box in whichever corner of the plot area covers the fewest drawn (coloured) pixels. */
function drawLegend(c: Canvas, b: Box, entries: ReadonlyArray<{ name: string; color: Rgb }>, st: Style): void {
  if (entries.length === 0) return;
  const { s } = st;
  const swatch = 16 * s;
  const rowH = st.line + 2 * s;
  const textMax = Math.max(8 * s, b.w - swatch - 20 * s);
  const names = entries.map((e) => fitText(e.name, textMax, s));
  const w = Math.min(b.w - 8 * s, 4 * s + swatch + 2 * st.pad + maxWidth(names, s) + 4 * s);
  const shown = Math.max(1, Math.min(entries.length, Math.floor((b.h - 16 * s) / rowH)));
  const h = 4 * s + shown * rowH + 2 * s;
  const m = 6 * s;
  const corners: Array<[number, number]> = [
    [b.x + b.w - m - w, b.y + m],
    [b.x + m, b.y + m],
    [b.x + b.w - m - w, b.y + b.h - m - h],
    [b.x + m, b.y + b.h - m - h],
  ];
  let best = corners[0];
  let bestCount = Infinity;
  for (const corner of corners) {
    let count = 0;
    for (let y = Math.max(0, corner[1]); y < Math.min(c.height, corner[1] + h); y++) {
      for (let x = Math.max(0, corner[0]); x < Math.min(c.width, corner[0] + w); x++) {
        const [r, g, bl] = c.getPixel(x, y);
        if (Math.max(r, g, bl) - Math.min(r, g, bl) > 30) count++;
      }
    }
    if (count < bestCount) [best, bestCount] = [corner, count];
  }
  const [x0, y0] = best;
  c.fillRect(x0, y0, w, h, WHITE, 0.88);
  c.strokeRect(x0, y0, w, h, [200, 200, 200]);
  for (let i = 0; i < shown; i++) {
    const y = y0 + 4 * s + i * rowH;
    const mid = y + st.cap / 2;
    c.polyline([x0 + 4 * s, x0 + 4 * s + swatch], [mid, mid], entries[i].color, { width: 2 * s });
    c.text(x0 + 4 * s + swatch + 2 * st.pad, y, names[i], INK, { scale: s });
  }
}

// ---------------------------------------------------------------- image grid

/**
 * Tiles a batch of images: [N, H, W] or [N, 1, H, W] grayscale, [N, 3, H, W] RGB, or flat
 * [N, H*W] / [N, 3*H*W] with options.imageShape. Values in `range` map to 0..255 (clipped);
 * tiles are separated by 1-pixel grey gaps.
 */
export function imageGridPng(images: Tensor, options?: ImageGridOptions): Buffer {
  checkTensor(images, 'images');
  const o = optionsObject(options, ['columns', 'scale', 'range', 'imageShape']);
  let imageShape: [number, number] | undefined;
  if (o.imageShape !== undefined) {
    const v = o.imageShape;
    if (
      !Array.isArray(v) ||
      v.length !== 2 ||
      !v.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1)
    ) {
      throw new EbmConfigError(
        `options.imageShape must be [height, width] with positive integers, got ${describeValue(v)}`,
      );
    }
    imageShape = [v[0], v[1]];
  }
  const shape = images.shape;
  const n = shape[0];
  let channels: number;
  let h: number;
  let w: number;
  if (shape.length === 2) {
    if (!imageShape) {
      throw new EbmShapeError(`images has flat shape [${shape.join(', ')}]; pass options.imageShape = [height, width]`);
    }
    [h, w] = imageShape;
    if (shape[1] === h * w) channels = 1;
    else if (shape[1] === 3 * h * w) channels = 3;
    else {
      throw new EbmShapeError(
        `images has ${shape[1]} values per row but options.imageShape [${h}, ${w}] needs ${h * w} (grayscale) or ${3 * h * w} (RGB)`,
      );
    }
  } else if (shape.length === 3) {
    [channels, h, w] = [1, shape[1], shape[2]];
  } else if (shape.length === 4 && (shape[1] === 1 || shape[1] === 3)) {
    [channels, h, w] = [shape[1], shape[2], shape[3]];
  } else {
    throw new EbmShapeError(
      `images must have shape [N, H, W], [N, 1, H, W], [N, 3, H, W] or [N, H*W] with options.imageShape; got [${shape.join(', ')}]`,
    );
  }
  if (imageShape && shape.length > 2 && (imageShape[0] !== h || imageShape[1] !== w)) {
    throw new EbmShapeError(
      `options.imageShape [${imageShape.join(', ')}] does not match images [${shape.join(', ')}]`,
    );
  }
  checkFinite(images, 'images');
  const columns = Math.min(n, intOption(o, 'columns', Math.ceil(Math.sqrt(n)), 1, 4096));
  const scale = intOption(o, 'scale', Math.min(16, Math.max(1, Math.ceil(32 / Math.max(h, w)))), 1, 64);
  let lo: number;
  let hi: number;
  if (o.range !== undefined) {
    const r = o.range;
    if (
      !Array.isArray(r) ||
      r.length !== 2 ||
      !r.every((v) => typeof v === 'number' && Number.isFinite(v)) ||
      !(r[1] > r[0])
    ) {
      throw new EbmConfigError(`options.range must be [low, high] with finite low < high, got ${describeValue(r)}`);
    }
    [lo, hi] = [r[0], r[1]];
  } else {
    lo = Infinity;
    hi = -Infinity;
    for (const v of images.data) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    // a constant batch shows as mid grey
    if (!(hi > lo)) [lo, hi] = [lo - 1, hi + 1];
  }
  const gridRows = Math.ceil(n / columns);
  const tw = w * scale;
  const th = h * scale;
  const width = columns * tw + columns - 1;
  const height = gridRows * th + gridRows - 1;
  if (width > MAX_GRID_SIDE || height > MAX_GRID_SIDE) {
    throw new EbmConfigError(
      `the image grid would be ${width}×${height} pixels (at most ${MAX_GRID_SIDE} per side); lower options.scale or change options.columns`,
    );
  }
  const c = new Canvas(width, height, TILE_GAP);
  const d = c.data;
  const src = images.data;
  const plane = h * w;
  const k = 255 / (hi - lo);
  const byte = (v: number): number => Math.min(255, Math.max(0, Math.round((v - lo) * k)));
  for (let i = 0; i < n; i++) {
    const ox = (i % columns) * (tw + 1);
    const oy = Math.floor(i / columns) * (th + 1);
    const base = i * channels * plane;
    for (let y = 0; y < th; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < tw; x++) {
        const sp = base + sy * w + Math.floor(x / scale);
        const o4 = ((oy + y) * width + ox + x) * 4;
        const r = byte(src[sp]);
        d[o4] = r;
        d[o4 + 1] = channels === 3 ? byte(src[sp + plane]) : r;
        d[o4 + 2] = channels === 3 ? byte(src[sp + 2 * plane]) : r;
      }
    }
  }
  return c.toPng();
}

// ---------------------------------------------------------------- files

/** Writes PNG bytes atomically: a temporary file in the same directory, flushed, then renamed over `path`. */
export function writePng(path: string, png: Buffer): void {
  if (!(png instanceof Uint8Array)) throw new EbmConfigError('png must be a Buffer (from densityPng, curvesPng, ...)');
  writeFileAtomic(path, png, 'PNG');
}
