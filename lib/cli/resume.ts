/** `ebm train --resume <run-folder>`: finding the checkpoint a run folder can continue from. */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { EbmConfigError, EbmIoError } from '../errors';
import { displayPath } from './args';

/**
 * The step a checkpoint's training state is at (its `ebm_torch.train.step` metadata), or
 * undefined for a file that is missing, holds weights only or is not a safetensors file.
 */
export function trainingStep(file: string): number | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = Buffer.alloc(8);
    if (fs.readSync(fd, size, 0, 8, 0) !== 8) return undefined;
    const length = Number(size.readBigUInt64LE(0));
    if (length > 100 * 1024 * 1024 || length > fs.fstatSync(fd).size - 8) return undefined;
    const header = Buffer.alloc(length);
    fs.readSync(fd, header, 0, length, 8);
    const parsed = JSON.parse(header.toString('utf8')) as { __metadata__?: Record<string, unknown> };
    const step = parsed.__metadata__?.['ebm_torch.train.step'];
    return typeof step === 'string' && /^\d+$/.test(step) ? Number(step) : undefined;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Of the run's checkpoint files, the one with a training state furthest along. */
export function resumeCheckpoint(dir: string, candidates: readonly string[]): { file: string; step: number } {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new EbmIoError(`--resume ${displayPath(dir)}: no such run folder`);
  }
  let best: { file: string; step: number } | undefined;
  for (const file of new Set(candidates)) {
    const step = trainingStep(file);
    if (step !== undefined && (best === undefined || step > best.step)) best = { file, step };
  }
  if (best === undefined) {
    throw new EbmIoError(
      `--resume ${displayPath(dir)}: none of ${[...new Set(candidates)].map(displayPath).join(', ')} holds a training ` +
        'state (a run folder of an earlier ebm-torch, or weights saved with model.save, cannot be resumed)',
    );
  }
  return best;
}

/** The folder `ebm train` writes: --resume DIR (which --out may only repeat), else --out DIR or runs/<name>. */
export function runFolder(name: string, flags: { out?: string; resume?: string }): string {
  const { out, resume } = flags;
  if (resume !== undefined && out !== undefined && nodePath.resolve(out) !== nodePath.resolve(resume)) {
    throw new EbmConfigError('--resume continues the run in its own folder: leave out --out');
  }
  return nodePath.resolve(resume ?? out ?? nodePath.join('runs', name));
}

/**
 * With --resume: the checkpoint of the run folder `dir` to continue from (see resumeCheckpoint),
 * which must be short of the `steps` the run trains up to.
 */
export function resumePoint(
  resumeDir: string | undefined,
  dir: string,
  candidates: readonly string[],
  steps: number,
): { file: string; step: number } | undefined {
  if (resumeDir === undefined) return undefined;
  const resume = resumeCheckpoint(dir, candidates);
  if (resume.step >= steps) {
    throw new EbmConfigError(
      `--resume ${displayPath(dir)}: the run is already at step ${resume.step}; pass --steps N with N > ${resume.step} to train on`,
    );
  }
  return resume;
}

/** The run's checkpoint: the config's (a relative path lands in the run folder), else the folder's model.safetensors. */
export function runCheckpoint(
  dir: string,
  checkpoint: { path?: string; every: number } | undefined,
  defaultEvery: number,
): { path: string; every: number } {
  const modelFile = nodePath.join(dir, 'model.safetensors');
  return {
    path: checkpoint?.path !== undefined ? nodePath.resolve(dir, checkpoint.path) : modelFile,
    every: checkpoint?.every ?? defaultEvery,
  };
}
