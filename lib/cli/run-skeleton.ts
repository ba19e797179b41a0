/**
 * The skeleton the two training commands share (`ebm train` of an ebm.train run and of a latent
 * prior): the run folder, training with its progress logged and shown, then the weights, the loss
 * curve, the evaluation, metrics.json and the summary; Ctrl-C keeps what was written and exits 130.
 * Each command brings what differs: how it trains, evaluates and reports.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { EbmAbortError, EbmIoError } from '../errors';
import { RunLog } from '../log/run';
import { version } from '../runtime';
import type { TrainProgress, TrainRun } from '../train';
import { displayPath } from './args';
import { finishInterrupted, onInterrupt } from './interrupt';
import { ProgressMode, ProgressSink, progressSink } from './progress';

/** What the evaluation after training adds: fields of metrics.json, summary lines, the files it drew. */
export interface Evaluation {
  metrics: Record<string, unknown>;
  summary: string[];
  files: string[];
}

/** The progress hooks a command's training job takes. */
export interface TrainHooks {
  signal: AbortSignal;
  onProgress: (p: TrainProgress) => void;
}

export interface TrainingRun {
  /** the run folder's log (see openRunFolder) */
  log: RunLog;
  quiet: boolean;
  /** the step the run trains up to */
  totalSteps: number;
  /** the device the model is on, for the first line and metrics.json */
  device: string;
  /** the first line's text before ' → <folder>' ('training <name>: ...') */
  intro: string;
  /** the progress display (default: progressSink on stderr) */
  sink?: (mode: ProgressMode, total: number) => ProgressSink;
  /** records logged before this run (a resumed run's): the loss curve starts with them */
  earlier?: TrainProgress[];
  train: (hooks: TrainHooks) => Promise<TrainRun>;
  /** writes model.safetensors with the weights of the last completed step (also on Ctrl-C during training) */
  saveModel: () => Promise<void>;
  lossPng: (records: readonly TrainProgress[]) => Buffer;
  evaluate: (signal: AbortSignal, say: (line: string) => void) => Promise<Evaluation>;
  /** the command's own fields of metrics.json (the versions and device follow them) and the summary's first line */
  report: (
    result: TrainRun,
    records: readonly TrainProgress[],
    ev: Evaluation,
  ) => { metrics: Record<string, unknown>; headline: string };
}

/** An --out (or --resume) folder that names a file is refused before anything is written. */
export function requireFolder(dir: string, flag: string): void {
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
    throw new EbmIoError(`${flag} ${displayPath(dir)} exists and is not a directory`);
  }
}

/**
 * The run folder's log, once stale copies of the command's `outputs` from an earlier run are gone
 * (`keep` are kept: a resumed run's checkpoint).
 */
export function openRunFolder(
  dir: string,
  config: unknown,
  outputs: readonly string[],
  options: { continueAt?: number; keep?: readonly string[] } = {},
): RunLog {
  for (const f of outputs) if (!options.keep?.includes(f)) fs.rmSync(nodePath.join(dir, f), { force: true });
  return new RunLog(dir, config, options.continueAt !== undefined ? { continueAt: options.continueAt } : {});
}

/** A metrics.jsonl record of a progress report (the run folder's earlier records, when resumed). */
export function isProgressRecord(r: Record<string, unknown>): r is Record<string, unknown> & TrainProgress {
  return typeof r.step === 'number' && typeof r.loss === 'number';
}

/** Trains, evaluates and reports a run; gives the exit status. */
export async function runTraining(run: TrainingRun): Promise<number> {
  const { log } = run;
  const shownDir = displayPath(log.dir);
  const say = (line: string): void => {
    if (!run.quiet) process.stderr.write(`${line}\n`);
  };
  const v = version();
  say(`${run.intro} → ${shownDir}  [ebm-torch ${v.ebmTorch}, LibTorch ${v.torch}, ${run.device}]`);

  const interrupt = onInterrupt();
  const mode: ProgressMode = run.quiet ? 'quiet' : process.stderr.isTTY ? 'tty' : 'lines';
  const sink = (run.sink ?? ((m, total) => progressSink(m, total, process.stderr)))(mode, run.totalSteps);
  const records: TrainProgress[] = [...(run.earlier ?? [])];
  let phase: 'training' | 'evaluation' = 'training';
  const written = ['config.json', 'metrics.jsonl'];
  try {
    const result = await run.train({
      signal: interrupt.signal,
      onProgress: (p) => {
        records.push(p);
        log.log(p);
        sink.update(p);
      },
    });
    sink.finish();
    await run.saveModel();
    written.push('model.safetensors');
    log.writePng('loss.png', run.lossPng(records));
    written.push('loss.png');

    phase = 'evaluation';
    const ev = await run.evaluate(interrupt.signal, say);
    written.push(...ev.files);
    const { metrics, headline } = run.report(result, records, ev);
    log.writeJson('metrics.json', { ...metrics, device: run.device, torch: v.torch, ebmTorch: v.ebmTorch });
    written.push('metrics.json');

    const out = process.stdout;
    out.write(`${headline}\n`);
    for (const line of ev.summary) out.write(`${line}\n`);
    out.write(`wrote ${shownDir}/{${written.join(', ')}}\n`);
    return 0;
  } catch (err) {
    sink.finish();
    if (!(err instanceof EbmAbortError) || !interrupt.signal.aborted) throw err;
    return finishInterrupted({
      phase,
      saveModel: run.saveModel,
      written,
      dir: log.dir,
      lastStep: records.at(-1)?.step,
      totalSteps: run.totalSteps,
      shownDir,
    });
  } finally {
    interrupt.dispose();
  }
}
