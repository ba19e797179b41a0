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
export function barLine(p: TrainProgress, total: number, width = 24): string {
  const frac = Math.min(1, Math.max(0, p.step / total));
  const filled = Math.round(frac * width);
  const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
  const avg = p.seconds > 0 ? p.step / p.seconds : p.stepsPerSecond;
  const eta = avg > 0 ? (total - p.step) / avg : NaN;
  const pct = `${Math.floor(frac * 100)}%`.padStart(4);
  return (
    `[${bar}] ${pct} ${String(p.step).padStart(String(total).length)}/${total}` +
    `  loss ${formatLoss(p.loss)}  ${formatRate(p.stepsPerSecond)} steps/s  ETA ${formatDuration(eta)}`
  );
}

export function progressSink(mode: ProgressMode, total: number, stream: Stream): ProgressSink {
  if (mode === 'quiet') return { update: () => undefined, finish: () => undefined };
  if (mode === 'lines') {
    return { update: (p) => void stream.write(progressLine(p, total) + '\n'), finish: () => undefined };
  }
  let open = false;
  return {
    update: (p) => {
      let line = barLine(p, total);
      const cols = stream.columns;
      if (cols !== undefined && cols > 10 && line.length > cols - 1) line = line.slice(0, cols - 1);
      stream.write(`\r\x1b[2K${line}`);
      open = true;
    },
    finish: () => {
      if (open) stream.write('\n');
      open = false;
    },
  };
}
