/**
 * A small RGBA raster: alpha blending, anti-aliased lines and dots, rectangles and text in a
 * built-in 5×7 bitmap font. Coordinates are continuous: pixel (i, j) covers [i, i+1) × [j, j+1),
 * row 0 at the top. Encoded to PNG with pngjs.
 */
import { PNG } from 'pngjs';
import { EbmConfigError } from '../errors';
import { checkNumber, describeValue } from '../validate';

/** An sRGB colour, each channel 0..255. */
export type Rgb = readonly [number, number, number];

export const WHITE: Rgb = [255, 255, 255];
export const BLACK: Rgb = [0, 0, 0];

/** Largest canvas side accepted, in pixels. */
export const MAX_CANVAS_SIDE = 16384;

export interface StrokeOptions {
  /** line width in pixels (default 1; ≤ 1 draws a Wu hairline) */
  width?: number;
  /** opacity 0..1 (default 1) */
  alpha?: number;
}

export interface TextOptions {
  /** integer magnification of the 5×7 font (default 1) */
  scale?: number;
  /** where x lies along the text: at its start, centre or end (default 'left') */
  align?: 'left' | 'center' | 'right';
  /** rotated 90° anticlockwise, reading upwards; x is then the left edge and y the anchor (default false) */
  vertical?: boolean;
  alpha?: number;
}

// Glyphs: rows top to bottom, '#' = ink. Rows 0..6 are the cap height; rows 7..8 hold descenders.
const GLYPHS: Record<string, readonly string[]> = {
  '0': ['.###.', '#...#', '#..##', '#.#.#', '##..#', '#...#', '.###.'],
  '1': ['..#..', '.##..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  '2': ['.###.', '#...#', '....#', '...#.', '..#..', '.#...', '#####'],
  '3': ['#####', '...#.', '..#..', '...#.', '....#', '#...#', '.###.'],
  '4': ['...#.', '..##.', '.#.#.', '#..#.', '#####', '...#.', '...#.'],
  '5': ['#####', '#....', '####.', '....#', '....#', '#...#', '.###.'],
  '6': ['..##.', '.#...', '#....', '####.', '#...#', '#...#', '.###.'],
  '7': ['#####', '....#', '...#.', '..#..', '.#...', '.#...', '.#...'],
  '8': ['.###.', '#...#', '#...#', '.###.', '#...#', '#...#', '.###.'],
  '9': ['.###.', '#...#', '#...#', '.####', '....#', '...#.', '.##..'],
  A: ['.###.', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  B: ['####.', '#...#', '#...#', '####.', '#...#', '#...#', '####.'],
  C: ['.###.', '#...#', '#....', '#....', '#....', '#...#', '.###.'],
  D: ['####.', '#...#', '#...#', '#...#', '#...#', '#...#', '####.'],
  E: ['#####', '#....', '#....', '####.', '#....', '#....', '#####'],
  F: ['#####', '#....', '#....', '####.', '#....', '#....', '#....'],
  G: ['.###.', '#...#', '#....', '#.###', '#...#', '#...#', '.####'],
  H: ['#...#', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  I: ['.###.', '..#..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  J: ['..###', '...#.', '...#.', '...#.', '...#.', '#..#.', '.##..'],
  K: ['#...#', '#..#.', '#.#..', '##...', '#.#..', '#..#.', '#...#'],
  L: ['#....', '#....', '#....', '#....', '#....', '#....', '#####'],
  M: ['#...#', '##.##', '#.#.#', '#.#.#', '#...#', '#...#', '#...#'],
  N: ['#...#', '#...#', '##..#', '#.#.#', '#..##', '#...#', '#...#'],
  O: ['.###.', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  P: ['####.', '#...#', '#...#', '####.', '#....', '#....', '#....'],
  Q: ['.###.', '#...#', '#...#', '#...#', '#.#.#', '#..#.', '.##.#'],
  R: ['####.', '#...#', '#...#', '####.', '#.#..', '#..#.', '#...#'],
  S: ['.####', '#....', '#....', '.###.', '....#', '....#', '####.'],
  T: ['#####', '..#..', '..#..', '..#..', '..#..', '..#..', '..#..'],
  U: ['#...#', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  V: ['#...#', '#...#', '#...#', '#...#', '#...#', '.#.#.', '..#..'],
  W: ['#...#', '#...#', '#...#', '#.#.#', '#.#.#', '#.#.#', '.#.#.'],
  X: ['#...#', '#...#', '.#.#.', '..#..', '.#.#.', '#...#', '#...#'],
  Y: ['#...#', '#...#', '.#.#.', '..#..', '..#..', '..#..', '..#..'],
  Z: ['#####', '....#', '...#.', '..#..', '.#...', '#....', '#####'],
  a: ['.....', '.....', '.###.', '....#', '.####', '#...#', '.####'],
  b: ['#....', '#....', '#.##.', '##..#', '#...#', '#...#', '####.'],
  c: ['.....', '.....', '.###.', '#....', '#....', '#...#', '.###.'],
  d: ['....#', '....#', '.##.#', '#..##', '#...#', '#...#', '.####'],
  e: ['.....', '.....', '.###.', '#...#', '#####', '#....', '.###.'],
  f: ['..##.', '.#..#', '.#...', '###..', '.#...', '.#...', '.#...'],
  g: ['.....', '.....', '.####', '#...#', '#...#', '#...#', '.####', '....#', '.###.'],
  h: ['#....', '#....', '#.##.', '##..#', '#...#', '#...#', '#...#'],
  i: ['..#..', '.....', '.##..', '..#..', '..#..', '..#..', '.###.'],
  j: ['...#', '....', '..##', '...#', '...#', '...#', '...#', '#..#', '.##.'],
  k: ['#....', '#....', '#..#.', '#.#..', '##...', '#.#..', '#..#.'],
  l: ['.##..', '..#..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  m: ['.....', '.....', '##.#.', '#.#.#', '#.#.#', '#.#.#', '#.#.#'],
  n: ['.....', '.....', '#.##.', '##..#', '#...#', '#...#', '#...#'],
  o: ['.....', '.....', '.###.', '#...#', '#...#', '#...#', '.###.'],
  p: ['.....', '.....', '####.', '#...#', '#...#', '#...#', '####.', '#....', '#....'],
  q: ['.....', '.....', '.####', '#...#', '#...#', '#...#', '.####', '....#', '....#'],
  r: ['.....', '.....', '#.##.', '##..#', '#....', '#....', '#....'],
  s: ['.....', '.....', '.####', '#....', '.###.', '....#', '####.'],
  t: ['.#...', '.#...', '###..', '.#...', '.#...', '.#..#', '..##.'],
  u: ['.....', '.....', '#...#', '#...#', '#...#', '#..##', '.##.#'],
  v: ['.....', '.....', '#...#', '#...#', '#...#', '.#.#.', '..#..'],
  w: ['.....', '.....', '#...#', '#...#', '#.#.#', '#.#.#', '.#.#.'],
  x: ['.....', '.....', '#...#', '.#.#.', '..#..', '.#.#.', '#...#'],
  y: ['.....', '.....', '#...#', '#...#', '#...#', '#...#', '.####', '....#', '.###.'],
  z: ['.....', '.....', '#####', '...#.', '..#..', '.#...', '#####'],
  ' ': ['...'],
  '.': ['..', '..', '..', '..', '..', '##', '##'],
  ',': ['..', '..', '..', '..', '..', '.#', '.#', '#.'],
  ':': ['..', '##', '##', '..', '..', '##', '##'],
  ';': ['..', '##', '##', '..', '..', '.#', '.#', '#.'],
  '-': ['....', '....', '....', '####'],
  '+': ['.....', '..#..', '..#..', '#####', '..#..', '..#..'],
  '=': ['.....', '.....', '#####', '.....', '#####'],
  '(': ['..#', '.#.', '#..', '#..', '#..', '.#.', '..#'],
  ')': ['#..', '.#.', '..#', '..#', '..#', '.#.', '#..'],
  '[': ['###', '#..', '#..', '#..', '#..', '#..', '###'],
  ']': ['###', '..#', '..#', '..#', '..#', '..#', '###'],
  '/': ['....#', '....#', '...#.', '..#..', '.#...', '#....', '#....'],
  '%': ['##..#', '##..#', '...#.', '..#..', '.#...', '#..##', '#..##'],
  _: ['.....', '.....', '.....', '.....', '.....', '.....', '.....', '#####'],
  '*': ['.....', '#.#.#', '.###.', '#####', '.###.', '#.#.#'],
  '!': ['#', '#', '#', '#', '#', '.', '#'],
  '?': ['.###.', '#...#', '....#', '...#.', '..#..', '.....', '..#..'],
  "'": ['#', '#'],
  '<': ['...#', '..#.', '.#..', '#...', '.#..', '..#.', '...#'],
  '>': ['#...', '.#..', '..#.', '...#', '..#.', '.#..', '#...'],
  '|': ['#', '#', '#', '#', '#', '#', '#', '#', '#'],
  '#': ['.#.#.', '.#.#.', '#####', '.#.#.', '#####', '.#.#.', '.#.#.'],
};

interface Glyph {
  width: number;
  /** ink pixels as [x, y] pairs */
  ink: Int8Array;
}

const FONT = new Map<string, Glyph>();
for (const [ch, rows] of Object.entries(GLYPHS)) {
  const ink: number[] = [];
  rows.forEach((r, y) => {
    for (let x = 0; x < r.length; x++) if (r[x] === '#') ink.push(x, y);
  });
  FONT.set(ch, { width: rows[0].length, ink: Int8Array.from(ink) });
}

/** Cap height of the font at scale 1, in pixels. */
export const FONT_CAP_HEIGHT = 7;
/** Line height at scale 1, including descenders. */
export const FONT_LINE_HEIGHT = 9;

function glyph(ch: string): Glyph {
  return FONT.get(ch) ?? (FONT.get('?') as Glyph);
}

/** The text and the integer magnification of textWidth and fitText. */
function checkText(text: unknown, scale: unknown): void {
  if (typeof text !== 'string') throw new EbmConfigError(`text must be a string, got ${describeValue(text)}`);
  checkNumber(scale, 'scale', { integer: true, min: 1, max: 64 });
}

/** Throws EbmConfigError unless `v` is [r, g, b] with integers 0..255; `what` names it. */
export function checkRgb(v: unknown, what: string): Rgb {
  const ok =
    Array.isArray(v) &&
    v.length === 3 &&
    v.every((c: unknown) => typeof c === 'number' && Number.isInteger(c) && c >= 0 && c <= 255);
  if (!ok) throw new EbmConfigError(`${what} must be [r, g, b] with integers 0..255, got ${describeValue(v)}`);
  return v as unknown as Rgb;
}

/** Width in pixels of `text` at an integer scale (one blank font pixel between glyphs). */
export function textWidth(text: string, scale = 1): number {
  checkText(text, scale);
  let w = 0;
  for (const ch of text) w += glyph(ch).width + 1;
  return Math.max(0, w - 1) * scale;
}

/** Cuts `text` (adding '..') so that it is at most `maxWidth` pixels wide. */
export function fitText(text: string, maxWidth: number, scale = 1): string {
  checkNumber(maxWidth, 'maxWidth', { min: 0 });
  if (textWidth(text, scale) <= maxWidth) return text;
  const chars = [...text];
  while (chars.length > 0 && textWidth(chars.join('') + '..', scale) > maxWidth) chars.pop();
  return chars.length > 0 ? chars.join('') + '..' : '';
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

export class Canvas {
  readonly width: number;
  readonly height: number;
  /** RGBA bytes, row-major, row 0 at the top */
  readonly data: Buffer;
  // drawing is limited to [clipX0, clipX1) × [clipY0, clipY1)
  private clipX0 = 0;
  private clipY0 = 0;
  private clipX1: number;
  private clipY1: number;

  constructor(width: number, height: number, background: Rgb = WHITE) {
    for (const [name, v] of [
      ['width', width],
      ['height', height],
    ] as const) {
      if (!Number.isInteger(v) || v < 1 || v > MAX_CANVAS_SIDE) {
        throw new EbmConfigError(`canvas ${name} must be an integer in 1..${MAX_CANVAS_SIDE}, got ${describeValue(v)}`);
      }
    }
    checkRgb(background, 'canvas background');
    this.width = width;
    this.height = height;
    this.data = Buffer.alloc(width * height * 4);
    this.clipX1 = width;
    this.clipY1 = height;
    this.fill(background);
  }

  /** Limits later drawing to the integer rectangle [x, x+w) × [y, y+h); with no arguments, lifts the limit. */
  clip(x?: number, y?: number, w?: number, h?: number): void {
    if (x === undefined || y === undefined || w === undefined || h === undefined) {
      [this.clipX0, this.clipY0, this.clipX1, this.clipY1] = [0, 0, this.width, this.height];
      return;
    }
    this.clipX0 = Math.max(0, Math.round(x));
    this.clipY0 = Math.max(0, Math.round(y));
    this.clipX1 = Math.min(this.width, Math.round(x + w));
    this.clipY1 = Math.min(this.height, Math.round(y + h));
  }

  /** Paints every pixel opaque `color` (ignores the clip). */
  fill(color: Rgb): void {
    const d = this.data;
    for (let i = 0; i < d.length; i += 4) {
      d[i] = color[0];
      d[i + 1] = color[1];
      d[i + 2] = color[2];
      d[i + 3] = 255;
    }
  }

  /** [r, g, b, a] of pixel (x, y). */
  getPixel(x: number, y: number): [number, number, number, number] {
    const i = (y * this.width + x) * 4;
    const d = this.data;
    return [d[i], d[i + 1], d[i + 2], d[i + 3]];
  }

  /** Composites `color` with opacity `alpha` over pixel (x, y) (integers); pixels outside the clip are ignored. */
  setPixel(x: number, y: number, color: Rgb, alpha = 1): void {
    if (!(alpha > 0) || x < this.clipX0 || y < this.clipY0 || x >= this.clipX1 || y >= this.clipY1) return;
    const d = this.data;
    const i = (y * this.width + x) * 4;
    if (alpha >= 1) {
      d[i] = color[0];
      d[i + 1] = color[1];
      d[i + 2] = color[2];
      d[i + 3] = 255;
      return;
    }
    // "source over" with a possibly transparent destination
    const da = d[i + 3] / 255;
    const oa = alpha + da * (1 - alpha);
    const keep = (da * (1 - alpha)) / oa;
    const put = alpha / oa;
    for (let k = 0; k < 3; k++) d[i + k] = Math.round(color[k] * put + d[i + k] * keep);
    d[i + 3] = Math.round(oa * 255);
  }

  /** Fills the integer rectangle [x, x+w) × [y, y+h), clipped to the canvas. */
  fillRect(x: number, y: number, w: number, h: number, color: Rgb, alpha = 1): void {
    const x0 = Math.max(this.clipX0, Math.round(x));
    const y0 = Math.max(this.clipY0, Math.round(y));
    const x1 = Math.min(this.clipX1, Math.round(x + w));
    const y1 = Math.min(this.clipY1, Math.round(y + h));
    for (let py = y0; py < y1; py++) for (let px = x0; px < x1; px++) this.setPixel(px, py, color, alpha);
  }

  /** Outlines [x, x+w) × [y, y+h) with a border `thickness` pixels wide, drawn inside it. */
  strokeRect(x: number, y: number, w: number, h: number, color: Rgb, thickness = 1, alpha = 1): void {
    const t = Math.max(1, Math.round(thickness));
    this.fillRect(x, y, w, t, color, alpha);
    this.fillRect(x, y + h - t, w, t, color, alpha);
    this.fillRect(x, y + t, t, h - 2 * t, color, alpha);
    this.fillRect(x + w - t, y + t, t, h - 2 * t, color, alpha);
  }

  /** A straight line between two points: Xiaolin Wu's anti-aliased hairline, or a round-capped stroke when wider. */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, options: StrokeOptions = {}): void {
    const width = options.width ?? 1;
    const alpha = options.alpha ?? 1;
    if (width > 1) {
      this.polyline([x0, x1], [y0, y1], color, options);
      return;
    }
    // Wu works with pixel centres at integer coordinates
    let ax = x0 - 0.5;
    let ay = y0 - 0.5;
    let bx = x1 - 0.5;
    let by = y1 - 0.5;
    const steep = Math.abs(by - ay) > Math.abs(bx - ax);
    if (steep) {
      [ax, ay] = [ay, ax];
      [bx, by] = [by, bx];
    }
    if (ax > bx) {
      [ax, bx] = [bx, ax];
      [ay, by] = [by, ay];
    }
    const plot = (u: number, v: number, c: number): void => {
      const a = alpha * width * c;
      if (steep) this.setPixel(v, u, color, a);
      else this.setPixel(u, v, color, a);
    };
    const fpart = (v: number): number => v - Math.floor(v);
    const dx = bx - ax;
    const gradient = dx === 0 ? 1 : (by - ay) / dx;
    // first end point
    let xend = Math.round(ax);
    let yend = ay + gradient * (xend - ax);
    let xgap = 1 - fpart(ax + 0.5);
    const xa = xend;
    plot(xa, Math.floor(yend), (1 - fpart(yend)) * xgap);
    plot(xa, Math.floor(yend) + 1, fpart(yend) * xgap);
    let intery = yend + gradient;
    // second end point
    xend = Math.round(bx);
    yend = by + gradient * (xend - bx);
    xgap = fpart(bx + 0.5);
    const xb = xend;
    if (xb !== xa) {
      plot(xb, Math.floor(yend), (1 - fpart(yend)) * xgap);
      plot(xb, Math.floor(yend) + 1, fpart(yend) * xgap);
    }
    for (let x = xa + 1; x < xb; x++) {
      plot(x, Math.floor(intery), 1 - fpart(intery));
      plot(x, Math.floor(intery) + 1, fpart(intery));
      intery += gradient;
    }
  }

  /**
   * Joined, round-capped segments through the points, anti-aliased by distance to the path.
   * Coverage is accumulated as a maximum first, so joints are not blended twice.
   */
  polyline(xs: ArrayLike<number>, ys: ArrayLike<number>, color: Rgb, options: StrokeOptions = {}): void {
    const n = Math.min(xs.length, ys.length);
    if (n === 0) return;
    const hw = Math.max(1, options.width ?? 1) / 2;
    const alpha = options.alpha ?? 1;
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      minX = Math.min(minX, xs[i]);
      maxX = Math.max(maxX, xs[i]);
      minY = Math.min(minY, ys[i]);
      maxY = Math.max(maxY, ys[i]);
    }
    const bx0 = Math.max(0, Math.floor(minX - hw - 1));
    const by0 = Math.max(0, Math.floor(minY - hw - 1));
    const bx1 = Math.min(this.width, Math.ceil(maxX + hw + 1));
    const by1 = Math.min(this.height, Math.ceil(maxY + hw + 1));
    if (bx1 <= bx0 || by1 <= by0) return;
    const bw = bx1 - bx0;
    const mask = new Float32Array(bw * (by1 - by0));
    for (let i = 0; i < Math.max(1, n - 1); i++) {
      const ax = xs[i];
      const ay = ys[i];
      const cx = n > 1 ? xs[i + 1] : ax;
      const cy = n > 1 ? ys[i + 1] : ay;
      const px0 = Math.max(bx0, Math.floor(Math.min(ax, cx) - hw - 1));
      const px1 = Math.min(bx1, Math.ceil(Math.max(ax, cx) + hw + 1));
      const py0 = Math.max(by0, Math.floor(Math.min(ay, cy) - hw - 1));
      const py1 = Math.min(by1, Math.ceil(Math.max(ay, cy) + hw + 1));
      const vx = cx - ax;
      const vy = cy - ay;
      const len2 = vx * vx + vy * vy;
      for (let py = py0; py < py1; py++) {
        for (let px = px0; px < px1; px++) {
          const qx = px + 0.5 - ax;
          const qy = py + 0.5 - ay;
          const t = len2 > 0 ? clamp01((qx * vx + qy * vy) / len2) : 0;
          const d = Math.hypot(qx - t * vx, qy - t * vy);
          const cov = clamp01(hw + 0.5 - d);
          const k = (py - by0) * bw + (px - bx0);
          if (cov > mask[k]) mask[k] = cov;
        }
      }
    }
    for (let py = by0; py < by1; py++) {
      for (let px = bx0; px < bx1; px++) {
        const cov = mask[(py - by0) * bw + (px - bx0)];
        if (cov > 0) this.setPixel(px, py, color, alpha * cov);
      }
    }
  }

  /** A filled disc of radius r centred at (cx, cy), with an anti-aliased rim. */
  fillCircle(cx: number, cy: number, r: number, color: Rgb, alpha = 1): void {
    if (!(r > 0) || !Number.isFinite(cx) || !Number.isFinite(cy)) return;
    const x0 = Math.max(0, Math.floor(cx - r - 1));
    const x1 = Math.min(this.width, Math.ceil(cx + r + 1));
    const y0 = Math.max(0, Math.floor(cy - r - 1));
    const y1 = Math.min(this.height, Math.ceil(cy + r + 1));
    // a disc smaller than a pixel still shows, with its area as opacity
    const faint = r < 0.5 ? Math.PI * r * r : 1;
    const rr = Math.max(r, 0.5);
    for (let py = y0; py < y1; py++) {
      for (let px = x0; px < x1; px++) {
        const cov = clamp01(rr + 0.5 - Math.hypot(px + 0.5 - cx, py + 0.5 - cy));
        if (cov > 0) this.setPixel(px, py, color, alpha * cov * faint);
      }
    }
  }

  /**
   * Draws one line of text. (x, y) is the top of the capitals; with `align` x is the left end,
   * centre or right end. Vertical text reads upwards: x is its left edge and y the anchor along it.
   * Characters outside the font show as '?'. Returns the text's length in pixels.
   */
  text(x: number, y: number, text: string, color: Rgb, options: TextOptions = {}): number {
    const s = Math.max(1, Math.round(options.scale ?? 1));
    const alpha = options.alpha ?? 1;
    const len = textWidth(text, s);
    const shift = options.align === 'center' ? len / 2 : options.align === 'right' ? len : 0;
    let pen = Math.round(-shift);
    const ox = Math.round(x);
    const oy = Math.round(y);
    for (const ch of text.replace(/[\n\r\t]/g, ' ')) {
      const g = glyph(ch);
      for (let k = 0; k < g.ink.length; k += 2) {
        const u = pen + g.ink[k] * s; // along the text
        const v = g.ink[k + 1] * s; // down from the top of the capitals
        if (options.vertical) this.fillRect(ox + v, oy - u - s, s, s, color, alpha);
        else this.fillRect(ox + u, oy + v, s, s, color, alpha);
      }
      pen += (g.width + 1) * s;
    }
    return len;
  }

  /** Encodes the canvas as an RGBA PNG. */
  toPng(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    this.data.copy(png.data);
    return PNG.sync.write(png);
  }
}
