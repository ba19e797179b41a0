/**
 * A run folder: runs/<name>/{config.json, metrics.jsonl, model.safetensors, *.png,
 * events.out.tfevents.*}. Files are written to a temp name and renamed, so a crash never leaves a
 * half-written file; metrics.jsonl is appended line by line (each line is whole JSON) and the
 * TensorBoard event file record by record (an append-only log by design, see ./tfevents).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EbmConfigError, EbmIoError } from '../errors';
import { writeFileAtomic } from '../fsutil';
import { version } from '../runtime';
import { describeValue } from '../validate';
import { EventWriter, isEventFile } from './tfevents';

export { writeFileAtomic };

export class RunLog {
  readonly dir: string;
  private readonly started = Date.now();
  private readonly events: EventWriter;
  private lastStep = 0;

  /** Records metrics.jsonl kept from before a resume (those up to `continueAt`), oldest first. */
  readonly earlier: Array<Record<string, unknown>> = [];

  /**
   * Creates (or reuses) the folder and records the config with the seed, LibTorch version and
   * device. A fresh run starts metrics.jsonl and the TensorBoard log anew; `continueAt` (a run
   * resumed from that step) keeps their records up to that step and drops later ones, which the
   * resumed run writes again.
   */
  constructor(dir: string, config: unknown, options: { continueAt?: number } = {}) {
    if (typeof dir !== 'string' || dir === '') {
      throw new EbmConfigError(`RunLog dir must be a non-empty folder path, got ${describeValue(dir)}`);
    }
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
    if (options.continueAt === undefined) {
      fs.rmSync(this.file('metrics.jsonl'), { force: true });
      // a reused folder shows this run only in TensorBoard: earlier event files go with metrics.jsonl
      for (const f of fs.readdirSync(dir)) if (isEventFile(f)) fs.rmSync(this.file(f), { force: true });
    } else {
      this.keepUpTo(options.continueAt);
    }
    this.events = new EventWriter(dir, this.started);
  }

  private keepUpTo(step: number): void {
    const file = this.file('metrics.jsonl');
    if (!fs.existsSync(file)) return;
    const kept: string[] = [];
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        continue; // a line cut short by a kill
      }
      if (typeof record !== 'object' || record === null) continue;
      const r = record as Record<string, unknown>;
      if (typeof r.step === 'number' && r.step > step) continue;
      kept.push(line);
      this.earlier.push(r);
      if (typeof r.step === 'number') this.lastStep = r.step;
    }
    writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }

  /**
   * Appends one JSON line to metrics.jsonl, stamped with the wall time since the run started, and
   * one TensorBoard scalar per numeric field (those of a nested object such as `metrics` too,
   * tagged with their own names) at `record.step`.
   */
  log(record: Record<string, unknown>): void {
    const line = JSON.stringify({ ...record, wallSeconds: (Date.now() - this.started) / 1000 }) + '\n';
    try {
      fs.appendFileSync(this.file('metrics.jsonl'), line);
    } catch (err) {
      throw new EbmIoError(`could not append to '${this.file('metrics.jsonl')}': ${(err as Error).message}`);
    }
    const step = typeof record.step === 'number' ? record.step : this.lastStep;
    this.lastStep = step;
    this.events.scalars(step, numericFields(record));
  }

  writeJson(name: string, value: unknown): void {
    writeFileAtomic(this.file(name), JSON.stringify(value, null, 2) + '\n');
  }

  writeBytes(name: string, bytes: Uint8Array): void {
    writeFileAtomic(this.file(name), bytes);
  }

  /** Writes a PNG atomically and adds it to the event file as an image (tag: the name without .png) at the last step logged. */
  writePng(name: string, png: Uint8Array): void {
    writeFileAtomic(this.file(name), png);
    this.events.image(this.lastStep, name.replace(/\.png$/i, ''), png);
  }
}

/** The numeric fields of a progress record (but its step), and those of objects nested one level. */
function numericFields(record: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(record)) {
    if (key === 'step') continue;
    if (typeof value === 'number') out[key] = value;
    else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) if (typeof v === 'number') out[k] = v;
    }
  }
  return out;
}
