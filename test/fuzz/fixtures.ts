/** Small models, tensors, files and specs shared by the fuzz groups. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ebm from '../../lib';
import { Arg, Entry } from './harness';
import { custom, num, opt, Spec, tensorSpec, union } from './spec';

/** Where scratch files go: memory when the system has a tmpfs there (thousands of small writes), else the temp folder. */
export const scratchRoot = (() => {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
})();

/** A fresh folder for the files a group writes; removed when the process exits. */
export function scratchDir(name: string): string {
  const dir = fs.mkdtempSync(path.join(scratchRoot, `ebm-fuzz-${name}-`));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const devicePattern = /^(auto|cpu|cuda|cuda:\d{1,3})$/;
/** 'auto' | 'cpu' | 'cuda' | 'cuda:N' */
export const device = (): Spec =>
  opt(
    custom(
      (v) => typeof v === 'string' && devicePattern.test(v),
      () => ['CPU', 'gpu', 'cuda:', 'cuda:-1', 'cuda:1000', 'cpu ', 'cuda:0x'],
    ),
  );

/** An EnergyModel of this library (anything else is invalid). */
export const model = (): Spec =>
  custom(
    (v) => v instanceof ebm.EnergyModel,
    () => [{ handle: {}, inputShape: [2] }, Object.create(ebm.EnergyModel.prototype) as object],
  );

/** A path that must name an existing file of the right kind (`good`); other strings are invalid. */
export const existingFile = (good: (p: string) => boolean, samples: () => unknown[]): Spec =>
  custom((v) => typeof v === 'string' && v !== '' && good(v), samples);

/** A path a file can be written to: its folder exists and it is not a folder itself. */
export const writablePath = (dir: string): Spec =>
  custom(
    (v) =>
      typeof v === 'string' &&
      v !== '' &&
      fs.existsSync(path.dirname(path.resolve(v))) &&
      !(fs.existsSync(v) && fs.statSync(v).isDirectory()),
    () => [dir, path.join(dir, 'no-such-folder', 'x.out'), '/proc/ebm-fuzz-no/x'],
  );

/** A [rows, ...rowShape] float32 tensor filled with a smooth deterministic pattern. */
export function grid(rows: number, rowShape: readonly number[], scale = 1): ebm.Tensor {
  const per = rowShape.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: rows * per }, (_, i) => scale * Math.sin(0.7 * i + 0.3));
  return { data, shape: [rows, ...rowShape] };
}

export const tensorArg = (name: string, base: () => ebm.Tensor, o: Parameters<typeof tensorSpec>[0] = {}): Arg => ({
  name,
  spec: tensorSpec(o),
  base,
});

/** An argument held at its base (not fuzzed in this entry). */
export const fixed = (name: string, base: () => unknown): Arg => ({
  name,
  spec: custom(
    () => true,
    () => [],
  ),
  base,
  fuzz: false,
});

/** An entry whose arguments other than `fuzzed` are held at their bases. */
export function entry(name: string, args: Arg[], call: Entry['call'], extra: Partial<Entry> = {}): Entry {
  return { name, args, call, ...extra };
}

/** The weights and the energies of a probe batch: the state a call must leave alone. */
export async function modelState(m: ebm.EnergyModel): Promise<unknown> {
  const x = grid(3, m.inputShape);
  const t = m.timeConditioned ? 0.5 : undefined;
  return { parameters: await m.parameters(), energy: await m.energy(x, t) };
}

/** A field that must be left out (any value is invalid); `samples` are tried besides the common bad values. */
export const absent = (samples: unknown[] = []): Spec =>
  opt(
    custom(
      () => false,
      () => samples,
    ),
  );

/** The time of a time-conditioned model for `rows` rows: a number, or a Float32Array with one per row. */
export const timeFor = (rows: number): Spec =>
  union(
    num(),
    custom(
      (v) => v instanceof Float32Array && v.length === rows && v.every(Number.isFinite),
      () => [
        new Float32Array(rows + 1),
        Float32Array.from({ length: rows }, (_, i) => (i === 1 ? NaN : 0.5)),
        new Float64Array(rows),
      ],
    ),
  );

/** One entry per function of `fns` (by name), made alike. */
export function entriesFor<F>(fns: Record<string, F>, make: (name: string, f: F) => Entry): Entry[] {
  return Object.entries(fns).map(([name, f]) => make(name, f));
}
