/** Line plots such as training curves: ticks, an optional log y axis and a legend. */
import { Canvas, Rgb, WHITE, fitText, textWidth } from './canvas';
import { categorical } from './colormap';
import {
  bottomMargin,
  Box,
  drawFrame,
  drawGridLines,
  drawLegend,
  drawTitle,
  drawXTicks,
  drawYTicks,
  INK,
  leftMargin,
  linearTicks,
  logTicks,
  style,
  Style,
  textScale,
  Tick,
  titleScale,
  topMargin,
} from './axes';
import { intOption, isArrayLike, MAX_TEXT, optionsObject, textOption } from './options';
import { EbmConfigError, EbmNumericsError, EbmShapeError } from '../errors';
import { describeValue, rejectUnknownKeys, requireObject } from '../validate';

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

/** One series' finite points, y already in axis units (log10 under logY). */
interface Curve {
  name: string;
  color: Rgb;
  xs: number[];
  ys: number[];
}

/** The data ranges the axes span, padded so that no point sits on the frame. */
interface Extent {
  xmin: number;
  xmax: number;
  ymin: number;
  ymax: number;
}

/** Where the plot area sits in the picture, and the ticks that decided the margins. */
interface Layout {
  st: Style;
  ts: number;
  box: Box;
  xTicks: Tick[];
  yTicks: Tick[];
}

/** Checks one series and keeps its plottable points; `i` gives its name in messages and its colour. */
function parseCurve(item: unknown, i: number, logY: boolean): Curve {
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
}

/** The bounding box of every curve's points, widened when it is flat in x or y. */
function curvesExtent(curves: Curve[], logY: boolean): Extent {
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
  return { xmin, xmax, ymin, ymax };
}

/**
 * Margins from the text they must hold: the y tick labels set the left one and the last x tick
 * label the right one, so the ticks are chosen here. Throws when no room is left to plot in.
 */
function layoutCurves(
  e: Extent,
  width: number,
  height: number,
  logY: boolean,
  text: { title?: string; xLabel?: string; yLabel?: string },
): Layout {
  const { title, xLabel, yLabel } = text;
  const st = style(textScale(Math.min(width, height)));
  const { s } = st;
  const ts = titleScale(title, s, width);
  const top = topMargin(title, ts, st);
  const bottom = bottomMargin(st) + (xLabel ? 2 * st.pad + st.line : 0);
  const plotH = height - top - bottom - 1;
  const yTicks = logY
    ? logTicks(e.ymin, e.ymax, Math.max(2, Math.round(plotH / 50)))
    : linearTicks(e.ymin, e.ymax, Math.max(2, Math.round(plotH / 50)));
  const left = leftMargin(yTicks, st) + (yLabel ? st.line + 2 * st.pad : 0);
  const xTicks = linearTicks(e.xmin, e.xmax, Math.max(2, Math.round((width - left) / 90)));
  const lastHalf = xTicks.length > 0 ? Math.ceil(textWidth(xTicks[xTicks.length - 1].label, s) / 2) : 0;
  const right = 1 + Math.max(12 * s, lastHalf + 2 * s);
  const plotW = width - left - right;
  if (plotW < 16 || plotH < 16) {
    throw new EbmConfigError(
      `options.width ${width} × options.height ${height} leaves a ${plotW}×${plotH} plot area after the labels; make them larger`,
    );
  }
  return { st, ts, box: { x: left, y: top, w: plotW, h: plotH }, xTicks, yTicks };
}

/** The x label centred under the tick labels, the y label written upwards at the left edge. */
function drawAxisLabels(c: Canvas, box: Box, st: Style, xLabel?: string, yLabel?: string): void {
  const { s } = st;
  if (xLabel) {
    const y = box.y + box.h + 1 + st.tick + st.pad + st.line + 2 * st.pad;
    c.text(box.x + box.w / 2, y, fitText(xLabel, c.width - 8 * s, s), INK, { scale: s, align: 'center' });
  }
  if (yLabel) {
    c.text(6 * s, box.y + box.h / 2, fitText(yLabel, c.height - 8 * s, s), INK, {
      scale: s,
      vertical: true,
      align: 'center',
    });
  }
}

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

  const curves = series.map((item: unknown, i) => parseCurve(item, i, logY));
  const e = curvesExtent(curves, logY);
  const { st, ts, box, xTicks, yTicks } = layoutCurves(e, width, height, logY, { title, xLabel, yLabel });
  const { s } = st;
  const c = new Canvas(width, height, WHITE);
  const toX = (v: number): number => box.x + ((v - e.xmin) / (e.xmax - e.xmin)) * box.w;
  const toY = (v: number): number => box.y + ((e.ymax - v) / (e.ymax - e.ymin)) * box.h;
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
  drawAxisLabels(c, box, st, xLabel, yLabel);
  drawLegend(
    c,
    box,
    curves.filter((cv) => cv.name !== ''),
    st,
  );
  drawTitle(c, title, box.x + box.w / 2, ts, st);
  return c.toPng();
}
