/** What every chart draws around its data: number labels and ticks, the frame, grid lines, title, dots and legend. */
import { Canvas, FONT_CAP_HEIGHT, FONT_LINE_HEIGHT, Rgb, WHITE, fitText, textWidth } from './canvas';
import { rows, Tensor } from '../tensor';

export const INK: Rgb = [34, 34, 34];
export const FRAME: Rgb = [70, 70, 70];
const GRIDLINE: Rgb = [230, 230, 230];

// ---------------------------------------------------------------- numbers and ticks

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

function expLabel(v: number, digits: number): string {
  const [m, e] = v.toExponential(digits).split('e');
  return `${trimZeros(m)}e${Number(e)}`;
}

/** Short label: about 3 significant digits, exponent form outside [1e-3, 1e5). */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return expLabel(v, 2);
  if (a >= 100) return String(Math.round(v));
  return trimZeros(v.toPrecision(3));
}

export interface Tick {
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
export function linearTicks(lo: number, hi: number, target: number): Tick[] {
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
export function logTicks(lo: number, hi: number, target: number): Tick[] {
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

// ---------------------------------------------------------------- layout pieces

/** Integer text magnification for a picture of this size. */
export function textScale(side: number): number {
  return Math.max(1, Math.round(side / 500));
}

/** The plot area: interior pixels [x, x+w) × [y, y+h); the frame is drawn just outside it. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Style {
  s: number;
  tick: number;
  pad: number;
  cap: number;
  line: number;
}

export function style(s: number): Style {
  return { s, tick: 4 * s, pad: 3 * s, cap: FONT_CAP_HEIGHT * s, line: FONT_LINE_HEIGHT * s };
}

export const maxWidth = (labels: readonly string[], s: number): number =>
  labels.reduce((m, l) => Math.max(m, textWidth(l, s)), 0);

export function drawFrame(c: Canvas, b: Box): void {
  c.strokeRect(b.x - 1, b.y - 1, b.w + 2, b.h + 2, FRAME);
}

/** Tick marks and labels below the box; `px` are continuous pixel positions. */
export function drawXTicks(c: Canvas, b: Box, ticks: ReadonlyArray<{ px: number; label: string }>, st: Style): void {
  for (const t of ticks) {
    const col = Math.min(b.x + b.w - 1, Math.max(b.x, Math.floor(t.px)));
    c.fillRect(col, b.y + b.h + 1, 1, st.tick, FRAME);
    const half = textWidth(t.label, st.s) / 2;
    const cx = Math.min(c.width - 1 - half, Math.max(half, col + 0.5));
    c.text(cx, b.y + b.h + 1 + st.tick + st.pad, t.label, INK, { scale: st.s, align: 'center' });
  }
}

/** Tick marks and right-aligned labels left of the box. */
export function drawYTicks(c: Canvas, b: Box, ticks: ReadonlyArray<{ py: number; label: string }>, st: Style): void {
  for (const t of ticks) {
    const row = Math.min(b.y + b.h - 1, Math.max(b.y, Math.floor(t.py)));
    c.fillRect(b.x - 1 - st.tick, row, st.tick, 1, FRAME);
    const top = Math.min(c.height - st.line, Math.max(0, Math.round(row + 0.5 - st.cap / 2)));
    c.text(b.x - 1 - st.tick - st.pad, top, t.label, INK, { scale: st.s, align: 'right' });
  }
}

export function drawGridLines(c: Canvas, b: Box, xs: readonly number[], ys: readonly number[]): void {
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
export function titleScale(title: string | undefined, s: number, room: number): number {
  return title !== undefined && title !== '' && room >= 200 ? 2 * s : s;
}

/** Height the title needs above the plot (0 without one). */
function titleBand(title: string | undefined, ts: number, st: Style): number {
  return title ? 6 * st.s + FONT_CAP_HEIGHT * ts + 8 * st.s : 0;
}

/** Room above the plot area: the title's band, at least a margin. */
export function topMargin(title: string | undefined, ts: number, st: Style): number {
  return Math.max(8 * st.s, titleBand(title, ts, st));
}

/** Room left of the plot area: a margin, the widest y tick label, padding, the tick and the frame. */
export function leftMargin(ticks: readonly Tick[], st: Style): number {
  return (
    6 * st.s +
    maxWidth(
      ticks.map((k) => k.label),
      st.s,
    ) +
    st.pad +
    st.tick +
    1
  );
}

/** Room below the plot area: the frame, the tick, padding, the x tick labels and a margin. */
export function bottomMargin(st: Style): number {
  return 1 + st.tick + st.pad + st.line + 6 * st.s;
}

export function drawTitle(c: Canvas, title: string | undefined, centre: number, ts: number, st: Style): void {
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

export function drawDots(c: Canvas, b: Box, pts: Tensor, lo: number, hi: number, color: Rgb, radius: number): void {
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

// ---------------------------------------------------------------- legend

/** A legend box in whichever corner of the plot area covers the fewest drawn (coloured) pixels. */
export function drawLegend(c: Canvas, b: Box, entries: ReadonlyArray<{ name: string; color: Rgb }>, st: Style): void {
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
