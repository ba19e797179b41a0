/**
 * The project's own fuzz suite: every public entry point and every CLI command gets generated bad
 * values for every field (wrong types, NaN, ±Infinity, negative, zero, fractional, huge, empty,
 * unknown keys; see test/fuzz/spec.ts). Each group runs in a child process of its own (a crash or
 * an abort of the child fails the case that was running); every invalid value must be rejected
 * with an EbmError (for the CLI: status 1 or 2 and one `ebm: ` line) that names the field, and the
 * model, the arguments and the library must be as they were.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { groupNames } from './fuzz/child';
import { scratchRoot } from './fuzz/fixtures';

interface GroupResult {
  name: string;
  cases: number;
  skipped: number;
  failures: string[];
  seconds: number;
}

const CHILD = path.join(__dirname, 'fuzz', 'child.js');

/** Runs one group in a child process and reads its results file. */
function runChild(name: string, dir: string): Promise<GroupResult> {
  const file = path.join(dir, `${name}.jsonl`);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, name, file], {
      env: { ...process.env, OMP_NUM_THREADS: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, sig) => {
      const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
      const records = lines.map(
        (l) => JSON.parse(l) as { t: string; id?: string; problems?: string[]; skipped?: number },
      );
      const failures: string[] = [];
      let cases = 0;
      let running: string | undefined;
      let end: (typeof records)[number] | undefined;
      for (const r of records) {
        if (r.t === 'start') running = r.id;
        if (r.t === 'case') {
          cases++;
          running = undefined;
          for (const p of r.problems ?? []) failures.push(`${r.id}: ${p}`);
        }
        if (r.t === 'end') end = r;
      }
      for (const p of end?.problems ?? []) failures.push(`${name}: ${p}`);
      if (code !== 0 || !end) {
        const how = sig ? `was killed by ${sig}` : `exited with status ${code}`;
        failures.push(
          `the ${name} child ${how}${running ? ` while running case ${running}` : ''}: ${stderr.trim().slice(-2000)}`,
        );
      }
      resolve({ name, cases, skipped: end?.skipped ?? 0, failures, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** Runs the groups `parallel` at a time, largest first. */
async function runAll(names: readonly string[], parallel: number): Promise<GroupResult[]> {
  const dir = fs.mkdtempSync(path.join(scratchRoot, 'ebm-fuzz-'));
  const queue = [...names];
  const results: GroupResult[] = [];
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) results.push(await runChild(name, dir));
  };
  try {
    await Promise.all(Array.from({ length: parallel }, worker));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return names.map((n) => results.find((r) => r.name === n) as GroupResult);
}

describe('fuzz: generated bad input on every entry point and CLI command', function () {
  this.timeout(600_000);
  let results: GroupResult[] = [];

  before(async () => {
    const started = Date.now();
    results = await runAll(groupNames, Math.max(1, Math.min(2, os.cpus().length)));
    const total = results.reduce((a, r) => a + r.cases, 0);
    const skipped = results.reduce((a, r) => a + r.skipped, 0);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `      fuzz: ${total} cases tried in ${seconds} s (${results.map((r) => `${r.name} ${r.cases} in ${r.seconds.toFixed(1)} s`).join(', ')}); ` +
        `${skipped} generated values were not run (valid by the specs, or not expressible in a JSON config file)`,
    );
  });

  for (const name of groupNames) {
    it(`${name}: every bad value is rejected with a clear error naming the field, nothing changed`, () => {
      const r = results.find((g) => g.name === name);
      assert.ok(r, `no result for ${name}`);
      assert.ok(r.cases > 0, `${name} ran no cases`);
      const shown = r.failures.slice(0, 40).join('\n');
      const more = r.failures.length > 40 ? `\n… and ${r.failures.length - 40} more` : '';
      assert.equal(r.failures.length, 0, `${r.failures.length} of ${r.cases} cases failed:\n${shown}${more}`);
    });
  }
});
