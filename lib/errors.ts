/** Every failure the library reports is an EbmError subclass with a stable `code`. */
export class EbmError extends Error {
  readonly code: string;
  constructor(message: string, code = 'EBM_ERROR') {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A bad option or hyper-parameter; the message names the field and what was expected. */
export class EbmConfigError extends EbmError {
  constructor(message: string) {
    super(message, 'EBM_CONFIG');
  }
}

/** A tensor of the wrong rank, size or length. */
export class EbmShapeError extends EbmError {
  constructor(message: string) {
    super(message, 'EBM_SHAPE');
  }
}

/** NaN/Inf in inputs, or a loss that became non-finite. */
export class EbmNumericsError extends EbmError {
  constructor(message: string) {
    super(message, 'EBM_NUMERICS');
  }
}

/** Missing, unreadable, truncated or malformed files. */
export class EbmIoError extends EbmError {
  constructor(message: string) {
    super(message, 'EBM_IO');
  }
}

/** A failure inside LibTorch itself (out of memory, a kernel error). */
export class EbmTorchError extends EbmError {
  constructor(message: string) {
    super(message, 'EBM_TORCH');
  }
}

/** A job cancelled through its AbortSignal. `name` is 'AbortError', as for fetch(). */
export class EbmAbortError extends EbmError {
  constructor(message = 'the operation was aborted') {
    super(message, 'EBM_ABORTED');
    this.name = 'AbortError';
  }
}

/** Data-parallel training: a failed rendezvous, or a rank that died or stopped answering. */
export class EbmDistributedError extends EbmError {
  constructor(message: string) {
    super(message, 'EBM_DISTRIBUTED');
  }
}

const byCode: Record<string, new (message: string) => EbmError> = {
  EBM_CONFIG: EbmConfigError,
  EBM_SHAPE: EbmShapeError,
  EBM_NUMERICS: EbmNumericsError,
  EBM_IO: EbmIoError,
  EBM_TORCH: EbmTorchError,
  EBM_ABORTED: EbmAbortError,
  EBM_DISTRIBUTED: EbmDistributedError,
};

/**
 * Maps an error thrown by the native addon (it carries an EBM_* `code`) to its EbmError subclass.
 * Anything else — e.g. whatever a user's onProgress callback threw — passes through unchanged.
 */
export function fromNative(err: unknown): unknown {
  if (err instanceof EbmError || !(err instanceof Error)) return err;
  const code = (err as Error & { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('EBM_')) return err;
  const Ctor = byCode[code];
  return Ctor ? new Ctor(err.message) : new EbmError(err.message, code);
}

/** Runs a native call (sync or async) and rethrows its failure as an EbmError subclass. */
export async function callNative<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fromNative(err);
  }
}

export function callNativeSync<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNative(err);
  }
}

/** Waits for a cancellable native job; an abort of `signal` cancels it (it then rejects with EbmAbortError). */
export async function awaitJob<T>(job: { promise: Promise<T>; cancel: () => void }, signal?: AbortSignal): Promise<T> {
  const onAbort = () => job.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await job.promise;
  } catch (err) {
    throw fromNative(err);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
