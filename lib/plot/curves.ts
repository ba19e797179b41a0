/** Line plots such as training curves: ticks, an optional log y axis and a legend. */
import { Canvas, WHITE, fitText, textWidth } from './canvas';
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
  textScale,
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
  const top = topMargin(title, ts, st);
  const bottom = bottomMargin(st) + (xLabel ? 2 * st.pad + st.line : 0);
  const plotH = height - top - bottom - 1;
  const yTicks = logY
    ? logTicks(ymin, ymax, Math.max(2, Math.round(plotH / 50)))
    : linearTicks(ymin, ymax, Math.max(2, Math.round(plotH / 50)));
  const left = leftMargin(yTicks, st) + (yLabel ? st.line + 2 * st.pad : 0);
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
