/**
 * The child side of the fuzz suite: builds a group's cases, runs them one after another and
 * writes one JSON line per case to a results file (synchronously, so a crash leaves the name of
 * the case that was running). Run as `node dist/test/fuzz/child.js <group> <results file>`.
 */
import * as fs from 'node:fs';
import * as ebm from '../../lib';
import { native } from '../../lib/native';
import { echoMismatch, mutations, namesField, pathText, sameValue, show, Spec, applyMutation } from './spec';

/** One positional argument of an entry point: the name messages use for it, its spec and a valid base value. */
export interface Arg {
  name: string;
  spec: Spec;
  /** a fresh valid value (called once per case, and again to check the call left its arguments alone) */
  base: () => unknown;
  /** false: held at its base (another entry fuzzes it) */
  fuzz?: false;
  /** an error may name this argument by its value (a file path in an I/O error) */
  namedByValue?: boolean;
}

export interface Entry {
  name: string;
  args: Arg[];
  call: (...args: unknown[]) => unknown;
  /** a pure validator: the values the spec calls valid run too, and must be accepted */
  validator?: boolean;
  /** when the call is rejected for a reason other than the field (kept rare): the message must still name this */
  alsoNames?: string[];
  /** the state of the models this entry works on: it must be the same after every case */
  state?: () => Promise<unknown>;
  /** puts the models back after a case that ran a valid value (training changes the weights) */
  restore?: () => Promise<void>;
}

/** What a case reports: problems (empty when it passed). */
export interface Case {
  id: string;
  run: () => Promise<string[]>;
}

export interface Group {
  cases: Case[];
  /** a good call whose result must be the same before the cases and after them */
  probe?: () => Promise<unknown> | unknown;
  /** cases whose spec calls the value valid and that were therefore not run */
  skipped?: number;
}

/** Error classes a rejection may use: any EbmError but EbmTorchError (LibTorch reached) and EbmAbortError. */
export function errorProblem(err: unknown): string | undefined {
  if (!(err instanceof ebm.EbmError)) {
    const e = err as { constructor?: { name?: string }; message?: unknown };
    return `threw ${e?.constructor?.name ?? typeof err} (not an EbmError): ${String(e?.message ?? err)}`;
  }
  if (err instanceof ebm.EbmTorchError) return `reached LibTorch (EbmTorchError): ${err.message}`;
  if (err instanceof ebm.EbmAbortError) return `was reported as an abort: ${err.message}`;
  if (/\n/.test(err.message)) return `a message of several lines: ${JSON.stringify(err.message)}`;
  return undefined;
}

/** The problems of a rejection: its class, whether it names the field, what value it echoes. */
export function judgeRejection(err: unknown, field: string, leaf: unknown, alsoNames: string[] = []): string[] {
  const bad = errorProblem(err);
  if (bad) return [bad];
  const message = (err as Error).message;
  const out: string[] = [];
  if (![field, ...alsoNames].some((f) => namesField(message, f)))
    out.push(`the message does not name ${field}: "${message}"`);
  const echo = echoMismatch(message, leaf);
  if (echo) out.push(`the message echoes another value (${echo}): "${message}"`);
  return out;
}

const PER_CASE_MS = 10_000;

/** Runs `p`, failing after PER_CASE_MS (a hang). */
async function withTimeout<T>(p: Promise<T>): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMEOUT>((resolve) => (timer = setTimeout(() => resolve(TIMEOUT), PER_CASE_MS)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
const TIMEOUT = Symbol('timeout');

const states = new WeakMap<Entry, Promise<unknown>>();
/** The entry's state before its first case (the state every case must leave). */
function stateOf(entry: Entry): Promise<unknown> {
  if (!states.has(entry)) states.set(entry, Promise.resolve(entry.state?.()));
  return states.get(entry) as Promise<unknown>;
}

/** The cases of an entry point: every mutation of every argument (valid ones only for validators). */
export function casesOf(entry: Entry, counter: { skipped: number }): Case[] {
  const cases: Case[] = [];
  const seen = new Map<string, number>();
  entry.args.forEach((arg, index) => {
    if (arg.fuzz === false) return;
    for (const m of mutations(arg.spec, arg.base())) {
      if (m.valid && !entry.validator && !m.cheap) {
        counter.skipped++;
        continue;
      }
      const field = pathText(arg.name, m.field);
      let id = `${entry.name} ${field} = ${show(m.leaf)}`;
      const n = seen.get(id) ?? 0;
      seen.set(id, n + 1);
      if (n > 0) id += ` #${n + 1}`;
      const build = () => {
        const args = entry.args.map((a) => a.base());
        args[index] = applyMutation(args[index], m);
        return args;
      };
      cases.push({
        id,
        run: async () => {
          const before = await stateOf(entry);
          const args = build();
          const copy = build();
          let threw = false;
          let error: unknown;
          const result = await withTimeout(
            (async () => {
              try {
                return await entry.call(...args);
              } catch (err) {
                threw = true;
                error = err;
                return undefined;
              }
            })(),
          );
          if (result === TIMEOUT) return [`did not settle within ${PER_CASE_MS / 1000} s`];
          const problems: string[] = [];
          if (m.valid && threw) problems.push(`rejected a valid value: ${(error as Error)?.message ?? String(error)}`);
          if (!m.valid && !threw) problems.push('accepted an invalid value');
          const names = [
            ...(entry.alsoNames ?? []),
            ...m.also.map((p) => pathText(arg.name, p)),
            ...((arg.namedByValue || m.namedByValue) && typeof m.leaf === 'string' ? [m.leaf] : []),
          ];
          if (!m.valid && threw) problems.push(...judgeRejection(error, field, m.leaf, names));
          if (!sameValue(args, copy)) problems.push('the call changed its arguments');
          if (!sameValue(await entry.state?.(), before)) {
            if (!m.valid) problems.push('the model changed (weights or energies)');
            await entry.restore?.();
            if (!sameValue(await entry.state?.(), before)) problems.push('the model cannot be put back');
          }
          return problems;
        },
      });
    }
  });
  return cases;
}

/** Runs a group's cases in order and writes the results file; exits non-zero on a hang. */
export async function runGroup(group: Group, resultsFile: string): Promise<void> {
  const fd = fs.openSync(resultsFile, 'w');
  const write = (record: object) => fs.writeSync(fd, JSON.stringify(record) + '\n');
  const snapshot = () => ({
    // LibTorch's thread count, read from the addon directly (version() also reads build details)
    threads: native().version().numThreads,
    constants: JSON.stringify([
      ebm.latentDefaults,
      ebm.lossKinds,
      ebm.samplerKinds,
      ebm.activations,
      ebm.modelKinds,
      ebm.datasets.toyNames,
      ebm.datasets.fashionMnistClasses,
      ebm.datasets.fashionMnistDefaultDir,
    ]),
  });
  const before = snapshot();
  const probeBefore = await group.probe?.();
  let current = '';
  const crash = (what: string) => (err: unknown) => {
    write({ t: 'case', id: current, problems: [`${what}: ${(err as Error)?.stack ?? String(err)}`] });
    process.exit(4);
  };
  process.on('uncaughtException', crash('an uncaught exception'));
  process.on('unhandledRejection', crash('an unhandled rejection'));
  for (const c of group.cases) {
    current = c.id;
    write({ t: 'start', id: c.id });
    const started = Date.now();
    const problems = await c.run();
    if (problems.some((p) => p.startsWith('did not settle'))) {
      write({ t: 'case', id: c.id, problems });
      process.exit(3);
    }
    const after = snapshot();
    if (!sameValue(after, before)) problems.push('the library changed (its thread count or constants)');
    write({ t: 'case', id: c.id, problems, ms: Date.now() - started });
    if (!sameValue(after, before)) Object.assign(before, after); // report each change once
  }
  const probeAfter = await group.probe?.();
  const probeProblems = sameValue(probeBefore, probeAfter) ? [] : ['a good call gave another result after the cases'];
  write({ t: 'end', skipped: group.skipped ?? 0, problems: probeProblems });
  fs.closeSync(fd);
}
