/**
 * Training progress on stderr: one updating line with a bar on a terminal, plain lines when
 * stderr is a file or a pipe, nothing with --quiet.
 */
import { TrainProgress } from '../index';

export type ProgressMode = 'tty' | 'lines' | 'quiet';

export interface ProgressSink {
  update(p: TrainProgress): void;
  /** ends the updating line (if any) so that later output starts on a fresh line */
  finish(): void;
}

interface Stream {
  write(text: string): boolean;
  columns?: number;
}

/** Compact number for a loss: 4 decimals, or exponent form when very large or small. */
export function formatLoss(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(3) : v.toFixed(4);
}

export function formatRate(stepsPerSecond: number): string {
  if (!Number.isFinite(stepsPerSecond)) return '-';
  return stepsPerSecond >= 100 ? stepsPerSecond.toFixed(0) : stepsPerSecond.toPrecision(3);
}

/** Seconds as m:ss or h:mm:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** A run's length for the summary: "4.7 s" under a minute, else m:ss or h:mm:ss. */
export function formatSeconds(seconds: number): string {
  return seconds < 59.95 ? `${seconds.toFixed(1)} s` : formatDuration(seconds);
}

/** The plain progress line: `step 100/2000 loss -0.8123 210 steps/s`. */
export function progressLine(p: TrainProgress, total: number): string {
  return `step ${p.step}/${total} loss ${formatLoss(p.loss)} ${formatRate(p.stepsPerSecond)} steps/s`;
}

/** The terminal line: bar, step/total, loss, steps/s, ETA (from the average rate so far). */
/** The fields of a bar line: the bar (width cells, or none at 0), then what follows it. */
function barText(p: TrainProgress, total: number, width: number, extras: number): string {
  const frac = Math.min(1, Math.max(0, p.step / total));
  // whole-number percent: 29/100 must read 29 %, which floor(0.29 * 100) does not give
  const pct = `${Math.min(100, Math.max(0, Math.floor((100 * p.step) / total)))}%`.padStart(4);
  const avg = p.seconds > 0 ? p.step / p.seconds : p.stepsPerSecond;
  const eta = avg > 0 ? (total - p.step) / avg : NaN;
  const tail = [`  ${formatRate(p.stepsPerSecond)} steps/s`, `  ETA ${formatDuration(eta)}`].slice(0, extras);
  const core = `${pct} ${String(p.step).padStart(String(total).length)}/${total}  loss ${formatLoss(p.loss)}`;
  if (width === 0) return core + tail.join('');
  const filled = Math.round(frac * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${core}${tail.join('')}`;
}

export function barLine(p: TrainProgress, total: number, width = 24): string {
  return barText(p, total, width, 2);
}

/**
 * The bar line in at most `columns - 1` characters (a full-width line would wrap): drops the ETA,
 * then the rate, then narrows the bar and drops it; numbers are never cut, except on a terminal
 * too narrow for the percent, the step count and the loss together.
 */
export function fittedBarLine(p: TrainProgress, total: number, columns?: number): string {
  const full = barLine(p, total);
  // a pseudo-terminal with no size set reports 0 columns: treat it as unknown
  if (columns === undefined || columns < 2) return full;
  const room = Math.max(1, columns - 1);
  const candidates = [full, barText(p, total, 24, 1)];
  for (let w = 24; w >= 5; w--) candidates.push(barText(p, total, w, 0));
  candidates.push(barText(p, total, 0, 0));
  const fits = candidates.find((line) => line.length <= room);
  return fits ?? barText(p, total, 0, 0).slice(0, room);
}

export function progressSink(mode: ProgressMode, total: number, stream: Stream): ProgressSink {
  if (mode === 'quiet') return { update: () => undefined, finish: () => undefined };
  if (mode === 'lines') {
    return { update: (p) => void stream.write(progressLine(p, total) + '\n'), finish: () => undefined };
  }
  let open = false;
  return {
    update: (p) => {
      stream.write(`\r\x1b[2K${fittedBarLine(p, total, stream.columns)}`);
      open = true;
    },
    finish: () => {
      if (open) stream.write('\n');
      open = false;
    },
  };
}
