import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/** Debian's python3 with python3-torch: the independent reference some tests compare against. */
export const referencePython = '/usr/bin/python3';

let available: boolean | undefined;
export function hasTorchPython(): boolean {
  available ??= referencePythonHas('torch');
  return available;
}

/** Whether Debian's python3 can import a module (numpy for the NPY cross-check, say). */
export function referencePythonHas(module: string): boolean {
  try {
    execFileSync(referencePython, ['-c', `import ${module}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** test/reference: the Python reference scripts and modules. */
export const referenceDir = path.join(__dirname, '..', '..', 'test', 'reference');

/** Runs test/reference/<script> with a JSON request on stdin; returns its JSON reply. */
export function runReference<T>(script: string, request: unknown): T {
  const file = path.join(__dirname, '..', '..', 'test', 'reference', script);
  const out = execFileSync(referencePython, [file], {
    input: JSON.stringify(request),
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  return JSON.parse(out.toString()) as T;
}
