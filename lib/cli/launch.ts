/**
 * `ebm launch --nproc N <script.js> [args]` and `ebm train <config> --nproc N`: N worker
 * processes on this machine with the torchrun variables set (RANK, WORLD_SIZE, LOCAL_RANK,
 * LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), the cores split between them, rank 0's output
 * streamed, the others' kept for the error report. The launch fails as a whole when any rank
 * fails: the remaining ranks are stopped and the error names the first rank that failed.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as os from 'node:os';
import { ResolvedDistributedSetting } from '../distributed';
import { EbmAbortError, EbmDistributedError } from '../errors';
import { INTERRUPTED_EXIT, onInterrupt } from './interrupt';
import { numberFlag, parseCommand, UsageError } from './args';

export const launchHelp = `Usage: ebm launch --nproc N [--port P] <script.js> [script arguments]

Starts N processes of 'node <script.js>' on this machine for data-parallel training, each with
the torchrun variables RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR (127.0.0.1)
and MASTER_PORT set, and OMP_NUM_THREADS = (cores / N, at least 1). A script passes
distributed: 'env' to ebm.train. Rank 0's output is shown; the others' stderr is shown when
they fail. When one rank fails the others are stopped and the launch exits 1 naming it;
Ctrl-C is passed on to every rank.

Options:
  --nproc N     number of processes (>= 1)
  --port P      MASTER_PORT (default: a free port)
  -h, --help    show this help

Several machines: start the same script on each with the variables set by your scheduler
(RANK, WORLD_SIZE, MASTER_ADDR = the rank-0 host, MASTER_PORT), as for torchrun.`;

/** A TCP port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface LaunchOptions {
  nproc: number;
  port?: number;
  /** shown in errors, e.g. 'ebm train' */
  what: string;
}

interface Exit {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Runs `node <args>` N times as ranks 0..N-1; resolves with rank 0's exit status. */
export async function launch(args: readonly string[], options: LaunchOptions): Promise<number> {
  const { nproc } = options;
  const port = options.port ?? (await freePort());
  const threads = String(Math.max(1, Math.floor(os.cpus().length / nproc)));
  const children: ChildProcess[] = [];
  const tails: string[][] = [];
  let firstFailure: Exit | undefined;
  let interrupted = false;

  const onSigint = (): void => {
    interrupted = true;
    for (const c of children) if (c.exitCode === null) c.kill('SIGINT');
  };
  process.on('SIGINT', onSigint);
  try {
    const exits = await Promise.all(
      Array.from({ length: nproc }, (_, rank) => {
        tails.push([]);
        const env = {
          ...process.env,
          RANK: String(rank),
          LOCAL_RANK: String(rank),
          WORLD_SIZE: String(nproc),
          LOCAL_WORLD_SIZE: String(nproc),
          MASTER_ADDR: '127.0.0.1',
          MASTER_PORT: String(port),
          OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? threads,
        };
        const child = spawn(process.execPath, [...args], {
          env,
          stdio: rank === 0 ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'ignore', 'pipe'],
        });
        children.push(child);
        child.stderr?.on('data', (chunk: Buffer) => {
          const lines = tails[rank];
          lines.push(
            ...chunk
              .toString()
              .split('\n')
              .filter((l) => l.trim() !== ''),
          );
          if (lines.length > 20) lines.splice(0, lines.length - 20);
        });
        return new Promise<Exit>((resolve) => {
          child.on('error', (err) => {
            tails[rank].push(err.message);
            resolve({ rank, code: 1, signal: null });
          });
          child.on('exit', (code, signal) => {
            const exit = { rank, code, signal };
            if ((code !== 0 || signal !== null) && firstFailure === undefined && !interrupted) {
              firstFailure = exit;
              // One rank failing fails the run: stop the others instead of letting them time out.
              for (const c of children) if (c !== child && c.exitCode === null) c.kill('SIGTERM');
            }
            resolve(exit);
          });
        });
      }),
    );
    if (interrupted) return exits[0].code ?? INTERRUPTED_EXIT;
    if (firstFailure !== undefined) {
      const f: Exit = firstFailure;
      const how = f.signal !== null ? `was killed by ${f.signal}` : `exited with status ${f.code}`;
      const last = f.rank === 0 ? '' : tails[f.rank].filter((l) => l.startsWith('ebm: ') || /Error/.test(l)).at(-1);
      throw new EbmDistributedError(
        `${options.what}: rank ${f.rank} of ${nproc} ${how}${last ? ` (${last.replace(/^ebm: /, '')})` : ''}; ` +
          'the other ranks were stopped',
      );
    }
    return exits[0].code ?? 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export async function launchCommand(argv: readonly string[]): Promise<number> {
  // Everything after the script belongs to the script.
  const scriptAt = argv.findIndex(
    (a, i) => !a.startsWith('-') && (i === 0 || !['--nproc', '--port'].includes(argv[i - 1])),
  );
  if (scriptAt < 0) throw new UsageError('ebm launch needs a script: ebm launch --nproc N <script.js> [args]');
  const args = parseCommand(
    'ebm launch',
    argv.slice(0, scriptAt),
    { nproc: { type: 'string' }, port: { type: 'string' } },
    [],
  );
  const nproc = numberFlag(args, 'nproc', { integer: true, min: 1, max: 1024 });
  if (nproc === undefined) throw new UsageError('ebm launch needs --nproc N');
  const port = numberFlag(args, 'port', { integer: true, min: 1, max: 65535 });
  return launch(argv.slice(scriptAt), { nproc, port, what: `ebm launch ${argv[scriptAt]}` });
}

/**
 * A run's data-parallel setting: the config's, else 'env' under torchrun or --nproc
 * (WORLD_SIZE > 1 in the environment), else none.
 */
export function runDistribution(
  configured: ResolvedDistributedSetting | undefined,
): ResolvedDistributedSetting | undefined {
  return configured ?? (Number(process.env.WORLD_SIZE ?? '1') > 1 ? 'env' : undefined);
}

/** A rank other than 0 trains its share and writes nothing (rank 0 writes the run folder). */
export async function runWorkerRank(job: (signal: AbortSignal) => Promise<unknown>): Promise<number> {
  const interrupt = onInterrupt();
  try {
    await job(interrupt.signal);
    return 0;
  } catch (err) {
    if (err instanceof EbmAbortError && interrupt.signal.aborted) return INTERRUPTED_EXIT;
    throw err;
  } finally {
    interrupt.dispose();
  }
}
