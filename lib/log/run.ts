/**
 * A run folder: runs/<name>/{config.json, metrics.jsonl, model.safetensors, *.png}. Files are
 * written to a temp name and renamed, so a crash never leaves a half-written file; metrics.jsonl
 * is appended line by line (each line is whole JSON).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EbmIoError } from '../errors';
import { writeFileAtomic } from '../fsutil';
import { version } from '../runtime';

export { writeFileAtomic };

export class RunLog {
  readonly dir: string;
  private readonly started = Date.now();

  /** Creates (or reuses) the folder and records the config with the seed, LibTorch version and device. */
  constructor(dir: string, config: unknown) {
    this.dir = dir;
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new EbmIoError(`could not create the run folder '${dir}': ${(err as Error).message}`);
    }
    const v = version();
    this.writeJson('config.json', {
      config,
      ebmTorch: v.ebmTorch,
      torch: v.torch,
      device: v.device,
      cudaAvailable: v.cudaAvailable,
      numThreads: v.numThreads,
      startedAt: new Date(this.started).toISOString(),
    });
    fs.rmSync(this.file('metrics.jsonl'), { force: true });
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }

  /** Appends one JSON line to metrics.jsonl, stamped with the wall time since the run started. */
  log(record: Record<string, unknown>): void {
    const line = JSON.stringify({ ...record, wallSeconds: (Date.now() - this.started) / 1000 }) + '\n';
    try {
      fs.appendFileSync(this.file('metrics.jsonl'), line);
    } catch (err) {
      throw new EbmIoError(`could not append to '${this.file('metrics.jsonl')}': ${(err as Error).message}`);
    }
  }

  writeJson(name: string, value: unknown): void {
    writeFileAtomic(this.file(name), JSON.stringify(value, null, 2) + '\n');
  }

  writeBytes(name: string, bytes: Uint8Array): void {
    writeFileAtomic(this.file(name), bytes);
  }
}
