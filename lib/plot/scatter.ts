/** Scatter plots: point clouds in a square box, with a legend for labelled sets. */
import { Canvas, WHITE, textWidth } from './canvas';
import { categorical } from './colormap';
import {
  bottomMargin,
  Box,
  drawDots,
  drawFrame,
  drawGridLines,
  drawTitle,
  drawXTicks,
  drawYTicks,
  INK,
  leftMargin,
  linearTicks,
  maxWidth,
  style,
  textScale,
  titleScale,
  topMargin,
} from './axes';
import { colorOption, intOption, optionsObject, textOption } from './options';
import { EbmConfigError, EbmNumericsError } from '../errors';
import { checkRows, checkTensor, rows, Tensor } from '../tensor';
import { checkNumber, rejectUnknownKeys, requireObject } from '../validate';

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
  const left = leftMargin(ticks, st);
  const top = topMargin(title, ts, st);
  const bottom = bottomMargin(st);
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
