/** Running the compiled CLI in tests, and what its failures must look like. */
import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';

/** The compiled CLI (tests run from dist/test). */
export const CLI = path.resolve(__dirname, '../lib/cli/main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ebm <args>` in `cwd` to completion. */
export function runCli(
  args: string[],
  cwd: string,
  options: { env?: NodeJS.ProcessEnv; timeout?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd, env: options.env ?? process.env, timeout: options.timeout ?? 90_000 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: unknown }).code as number) : 0;
        resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
      },
    );
  });
}

/** A failure: the status and exactly one `ebm: ...` line on stderr, no stack trace. */
export function assertOneLineError(r: CliResult, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit status (stderr: ${r.stderr})`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^ebm: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

export function decodePng(file: string): PNG {
  return PNG.sync.read(fs.readFileSync(file));
}

/** Runs `ebm <args>` and sends SIGINT once it prints its first progress line; its status and stderr. */
export function interruptAtFirstStep(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env });
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (!sent && /\nstep \d+/.test(stderr)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

/** Image k of the PNG folder: bright left half (even k) or bright right half (odd k), 16 × 16. */
export function stripes(k: number): PNG {
  const png = new PNG({ width: 16, height: 16 });
  for (let p = 0; p < 256; p++) {
    const v = p % 16 < 8 === (k % 2 === 0) ? 230 : 20;
    png.data.set([v, v, v, 255], p * 4);
  }
  return png;
}
