/**
 * Ctrl-C handling for long commands: the first SIGINT aborts the running job through an
 * AbortController (the command then saves what it can and exits 130); a second one exits at once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EbmAbortError } from '../errors';

export const INTERRUPTED_EXIT = 130;

export interface Interrupt {
  signal: AbortSignal;
  /** removes the SIGINT handler */
  dispose(): void;
}

export function onInterrupt(): Interrupt {
  const controller = new AbortController();
  const handler = (): void => {
    if (controller.signal.aborted) {
      process.stderr.write('\nebm: interrupted again; exiting without cleanup\n');
      process.exit(INTERRUPTED_EXIT);
    }
    controller.abort();
  };
  process.on('SIGINT', handler);
  return { signal: controller.signal, dispose: () => void process.off('SIGINT', handler) };
}

/**
 * Runs a job that Ctrl-C aborts. An interrupt during it writes `ebm: <what> interrupted; nothing
 * written` and gives undefined; any other failure is rethrown.
 */
export async function interruptible<T>(what: string, job: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
  const interrupt = onInterrupt();
  try {
    return await job(interrupt.signal);
  } catch (err) {
    if (interrupt.signal.aborted && err instanceof EbmAbortError) {
      process.stderr.write(`ebm: ${what} interrupted; nothing written\n`);
      return undefined;
    }
    throw err;
  } finally {
    interrupt.dispose();
  }
}

/** What a training command kept when Ctrl-C stopped it. */
export interface InterruptedRun {
  phase: 'training' | 'evaluation';
  /** saves the weights of the last completed step */
  saveModel: () => Promise<void>;
  written: string[];
  /** the run folder: only files that exist there are named */
  dir: string;
  lastStep: number | undefined;
  totalSteps: number;
  shownDir: string;
}

/** Saves the model when training was interrupted, says what was kept, and gives the exit code. */
export async function finishInterrupted(run: InterruptedRun): Promise<number> {
  if (run.phase === 'training') {
    await run.saveModel();
    run.written.push('model.safetensors');
  }
  const at = run.lastStep !== undefined ? ` after step ${run.lastStep}/${run.totalSteps}` : '';
  const kept = run.written.filter((f) => fs.existsSync(path.join(run.dir, f)));
  process.stderr.write(
    `ebm: interrupted during ${run.phase}${run.phase === 'training' ? at : ''}; kept ${run.shownDir}/{${kept.join(', ')}}\n`,
  );
  return INTERRUPTED_EXIT;
}
