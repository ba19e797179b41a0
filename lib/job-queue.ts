/**
 * The job queue of models: one job at a time per model and per part of a composition, in call
 * order. Waiting happens here in JS rather than on libuv's thread pool (see EnergyModel).
 */
import { callNative, EbmAbortError } from './errors';

/** @internal One model's place in the queue. */
export class JobQueue {
  /** settles when the last job queued on this model has finished */
  tail: Promise<void> = Promise.resolve();
  /** jobs queued or running on this model */
  pending = 0;
}

/** @internal How a job waits: `copy` takes its inputs when it has to, `signal` cancels it while it waits. */
export interface ExclusiveOptions<I> {
  copy?: (input: I) => I;
  signal?: AbortSignal;
  /** names the job in the abort message */
  what?: string;
}

/** @internal True while a job is queued or running on any of `queues`. */
export function anyPending(queues: readonly JobQueue[]): boolean {
  return queues.some((q) => q.pending > 0);
}

/**
 * @internal Runs `start(input)` (it begins a native job and resolves when the job ends) after
 * every job queued earlier on any of `queues` (a model's and those of the models it holds); at
 * once when there is none. A job that has to wait gets `copy(input)`, taken now, so later writes
 * to the caller's arrays do not reach it. A signal that fires while the job waits rejects it with
 * EbmAbortError and it never starts; once started, aborting is the job's own business.
 */
export function runExclusive<I, T>(
  queues: readonly JobQueue[],
  input: I,
  start: (input: I) => Promise<T>,
  options: ExclusiveOptions<I> = {},
): Promise<T> {
  const { copy, signal, what = 'the job' } = options;
  const aborted = () => new EbmAbortError(`${what} was aborted before it started`);
  const idle = !anyPending(queues);
  const given = !idle && copy ? copy(input) : input;
  let started = false;
  const run = (): Promise<T> => {
    if (signal?.aborted) return Promise.reject(aborted());
    started = true;
    return callNative(() => start(given));
  };
  const result = idle ? run() : Promise.allSettled(queues.map((q) => q.tail)).then(run);
  const done = result.then(
    () => undefined,
    () => undefined,
  );
  for (const q of queues) {
    q.pending++;
    q.tail = done;
  }
  void done.then(() => {
    for (const q of queues) q.pending--;
  });
  if (idle || !signal) return result;
  // Waiting: an abort rejects now (the queued start then sees the signal and does nothing).
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      if (!started) reject(aborted());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    result.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
