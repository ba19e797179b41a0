/**
 * Ctrl-C handling for long commands: the first SIGINT aborts the running job through an
 * AbortController (the command then saves what it can and exits 130); a second one exits at once.
 */
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
