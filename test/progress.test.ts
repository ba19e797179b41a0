import { strict as assert } from 'node:assert';
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  barLine,
  fittedBarLine,
  formatDuration,
  formatLoss,
  formatRate,
  formatSeconds,
  progressLine,
  progressSink,
} from '../lib/cli/progress';
import type { TrainProgress } from '../lib/train';
import { tmpDir } from './helpers';

/** The compiled CLI: this file runs as dist/test/progress.test.js. */
const CLI = path.resolve(__dirname, '../lib/cli/main.js');

/** What a terminal redraw starts with: carriage return, then "erase the whole line". */
const REDRAW = '\r\x1b[2K';

/** A stand-in for process.stderr that records every write. */
class FakeStream {
  readonly chunks: string[] = [];
  constructor(
    readonly isTTY: boolean,
    public columns?: number,
  ) {}
  write(text: string): boolean {
    this.chunks.push(text);
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
}

function report(step: number, loss: number, stepsPerSecond: number, seconds: number): TrainProgress {
  return { step, loss, lr: 0.001, stepsPerSecond, seconds };
}

describe('progress: number formats', () => {
  it('formatLoss: 4 decimals, exponent form below 1e-3 or from 1e5, non-finite as words', () => {
    assert.equal(formatLoss(-0.81234), '-0.8123');
    assert.equal(formatLoss(1.23456), '1.2346');
    assert.equal(formatLoss(0), '0.0000');
    assert.equal(formatLoss(0.001), '0.0010');
    assert.equal(formatLoss(0.000999), '9.990e-4');
    assert.equal(formatLoss(-1.5e-7), '-1.500e-7');
    assert.equal(formatLoss(99999.5), '99999.5000');
    assert.equal(formatLoss(100000), '1.000e+5');
    assert.equal(formatLoss(-2.5e9), '-2.500e+9');
    assert.equal(formatLoss(NaN), 'NaN');
    assert.equal(formatLoss(Infinity), 'Infinity');
    assert.equal(formatLoss(-Infinity), '-Infinity');
  });

  it('formatRate: whole numbers from 100, else 3 significant digits, "-" when unknown', () => {
    assert.equal(formatRate(210.4), '210');
    assert.equal(formatRate(1234.6), '1235');
    assert.equal(formatRate(100), '100');
    assert.equal(formatRate(99.94), '99.9');
    assert.equal(formatRate(1.2345), '1.23');
    assert.equal(formatRate(0.012345), '0.0123');
    assert.equal(formatRate(NaN), '-');
    assert.equal(formatRate(Infinity), '-');
  });

  it('formatDuration: m:ss under an hour, h:mm:ss from an hour, rounded to the second', () => {
    assert.equal(formatDuration(0), '0:00');
    assert.equal(formatDuration(7), '0:07');
    assert.equal(formatDuration(59.4), '0:59');
    assert.equal(formatDuration(59.6), '1:00');
    assert.equal(formatDuration(125), '2:05');
    assert.equal(formatDuration(3599.4), '59:59');
    assert.equal(formatDuration(3599.6), '1:00:00');
    assert.equal(formatDuration(3661), '1:01:01');
    assert.equal(formatDuration(36005), '10:00:05');
    for (const bad of [NaN, Infinity, -1]) assert.equal(formatDuration(bad), '--:--', String(bad));
  });

  it('formatSeconds: "x.y s" under a minute, then m:ss', () => {
    assert.equal(formatSeconds(0), '0.0 s');
    assert.equal(formatSeconds(4.74), '4.7 s');
    assert.equal(formatSeconds(59.94), '59.9 s');
    assert.equal(formatSeconds(59.95), '1:00');
    assert.equal(formatSeconds(125), '2:05');
    assert.equal(formatSeconds(3725), '1:02:05');
  });
});

describe('progress: the plain line', () => {
  it('progressLine: `step N/TOTAL loss L R steps/s`', () => {
    assert.equal(progressLine(report(100, -0.81234, 210.4, 0.5), 2000), 'step 100/2000 loss -0.8123 210 steps/s');
    assert.equal(progressLine(report(5, 123456, 1.234, 4), 10), 'step 5/10 loss 1.235e+5 1.23 steps/s');
    assert.equal(progressLine(report(3, NaN, NaN, 0), 10), 'step 3/10 loss NaN - steps/s');
  });
});

describe('progress: the terminal line', () => {
  it('barLine: bar, percent, step/total, loss, steps/s and ETA in a fixed layout', () => {
    // 500/2000 = 25%: 6 of 24 cells; 500 steps in 2 s → 250 steps/s on average → 1500 steps left take 6 s
    assert.equal(
      barLine(report(500, -0.81234, 250, 2), 2000),
      '[######------------------]  25%  500/2000  loss -0.8123  250 steps/s  ETA 0:06',
    );
    assert.equal(
      barLine(report(2000, 0.5, 250, 8), 2000),
      '[########################] 100% 2000/2000  loss 0.5000  250 steps/s  ETA 0:00',
    );
  });

  it('barLine: the step is padded to the width of the total, the percent to 4 characters', () => {
    const line = barLine(report(5, 1, 10, 0.5), 2000);
    assert.ok(line.startsWith('[------------------------]   0%    5/2000  loss 1.0000  10.0 steps/s  ETA '), line);
    assert.match(barLine(report(1, 1, 10, 0.1), 2), /^\[############------------\] {2}50% 1\/2 /);
    // the percent is the floor of 100 · step / total in whole numbers (0.29 · 100 is 28.999…)
    for (let s = 0; s <= 100; s++) {
      assert.match(barLine(report(s, 0, 1, 1), 100), new RegExp(`\\] ${`${s}%`.padStart(4)} `), `step ${s}`);
    }
    assert.match(barLine(report(2, 0, 1, 1), 3), /\] {2}66% /);
  });

  it('barLine: the ETA comes from the average rate so far, not the latest rate', () => {
    // latest 1000 steps/s, but 100 steps took 10 s: 900 steps left at 10 steps/s = 90 s
    assert.match(barLine(report(100, 0, 1000, 10), 1000), / {2}1000 steps\/s {2}ETA 1:30$/);
    // no time measured yet: falls back on the latest rate (100 steps left at 50 steps/s)
    assert.match(barLine(report(0, 0, 50, 0), 100), /ETA 0:02$/);
    // nothing to go on
    assert.match(barLine(report(0, 0, 0, 0), 100), / steps\/s {2}ETA --:--$/);
    assert.match(barLine(report(0, 0, NaN, 0), 100), / - steps\/s {2}ETA --:--$/);
    // hours
    assert.match(barLine(report(1, 0, 1, 1), 7202), /ETA 2:00:01$/);
  });

  it('barLine: the bar fills in proportion to step/total and stays inside its brackets', () => {
    for (const width of [10, 24, 40]) {
      for (let step = 0; step <= 40; step++) {
        const bar = /^\[([#-]*)\]/.exec(barLine(report(step, 0, 1, 1), 40, width))?.[1] ?? '';
        assert.equal(bar.length, width, `width ${width}, step ${step}`);
        assert.match(bar, /^#*-*$/);
        const filled = bar.indexOf('-') < 0 ? width : bar.indexOf('-');
        assert.ok(Math.abs(filled - (step / 40) * width) <= 0.5, `width ${width}, step ${step}: ${bar}`);
      }
      assert.equal(/^\[([#-]*)\]/.exec(barLine(report(0, 0, 1, 1), 40, width))?.[1], '-'.repeat(width));
      assert.equal(/^\[([#-]*)\]/.exec(barLine(report(40, 0, 1, 1), 40, width))?.[1], '#'.repeat(width));
    }
    // past the end (e.g. a rounding in the caller): a full bar, 100%, not more
    assert.match(barLine(report(12, 0, 1, 1), 10), /^\[#{24}\] 100% 12\/10 /);
  });
});

describe('progress: progressSink', () => {
  const total = 2000;
  const a = report(100, -0.81234, 210.4, 0.5);
  const b = report(200, -0.9, 220, 0.9);
  const c = report(2000, -1.25, 230, 8.7);

  describe("'tty': one line redrawn in place", () => {
    it('each update erases the line and redraws it; finish ends it with one newline', () => {
      const s = new FakeStream(true, 200);
      const sink = progressSink('tty', total, s);
      sink.update(a);
      assert.deepEqual(s.chunks, [REDRAW + barLine(a, total)], 'no newline while the line is open');
      sink.update(b);
      sink.update(c);
      assert.equal(s.chunks.length, 3, 'one write per report: no throttling, the last report is always drawn');
      sink.finish();
      assert.equal(s.text, `${REDRAW}${barLine(a, total)}${REDRAW}${barLine(b, total)}${REDRAW}${barLine(c, total)}\n`);
      assert.equal(s.text.split('\n').length, 2, 'exactly one newline, at the end');
      assert.match(s.chunks[2], /\] 100% 2000\/2000 {2}loss -1\.2500 {2}230 steps\/s {2}ETA 0:00$/);
    });

    it('finish writes nothing when no line is open, and only once', () => {
      const s = new FakeStream(true, 80);
      const sink = progressSink('tty', total, s);
      sink.finish();
      assert.deepEqual(s.chunks, [], 'no stray newline without a bar');
      sink.update(a);
      sink.finish();
      sink.finish();
      assert.equal(s.text, `${REDRAW}${barLine(a, total)}\n`);
      // an update after finish opens a new line, which the next finish ends
      sink.update(b);
      sink.finish();
      assert.equal(s.text, `${REDRAW}${barLine(a, total)}\n${REDRAW}${barLine(b, total)}\n`);
    });

    it('the line fits the terminal in columns - 1 characters, dropping whole fields, never cutting a number', () => {
      const full = barLine(a, total);
      assert.equal(full.length, 78);
      const core = '  5%  100/2000  loss -0.8123'; // what is kept to the last
      for (let cols = 2; cols <= 100; cols++) {
        const s = new FakeStream(true, cols);
        progressSink('tty', total, s).update(a);
        assert.equal(s.chunks.length, 1);
        assert.ok(s.chunks[0].startsWith(REDRAW));
        const shown = s.chunks[0].slice(REDRAW.length);
        assert.ok(shown.length <= cols - 1, `${cols} columns: ${shown.length} characters`);
        if (cols - 1 >= core.length) {
          // one of: full; without the ETA; a bar of 24..5 cells and the core; the core alone
          assert.match(
            shown,
            /^(\[[#-]{5,24}\] )? {2}5% {2}100\/2000 {2}loss -0\.8123( {2}210 steps\/s( {2}ETA \d+:\d\d)?)?$/,
            `${cols} columns: ${JSON.stringify(shown)}`,
          );
          if (cols - 1 >= full.length) assert.equal(shown, full);
        } else {
          assert.equal(shown, core.slice(0, cols - 1), 'too narrow even for the core: cut');
        }
      }
      // 40 columns: the step count and the loss stay whole (a cut line read "100/20")
      const s40 = new FakeStream(true, 40);
      progressSink('tty', total, s40).update(a);
      assert.equal(s40.text, `${REDRAW}[--------]   5%  100/2000  loss -0.8123`);
      // 80 columns: everything shows
      const s80 = new FakeStream(true, 80);
      progressSink('tty', total, s80).update(a);
      assert.equal(s80.text, REDRAW + full);
      // 56 columns: the bar, the percent, the step count and the loss
      const s56 = new FakeStream(true, 56);
      progressSink('tty', total, s56).update(a);
      assert.equal(s56.text, `${REDRAW}[#-----------------------]   5%  100/2000  loss -0.8123`);
    });

    it('the width is read at every update (the terminal may be resized)', () => {
      const s = new FakeStream(true, 100);
      const sink = progressSink('tty', total, s);
      sink.update(a);
      s.columns = 30;
      sink.update(b);
      s.columns = undefined;
      sink.update(c);
      assert.deepEqual(s.chunks, [
        REDRAW + barLine(a, total),
        REDRAW + fittedBarLine(b, total, 30),
        REDRAW + barLine(c, total),
      ]);
    });

    it('no known width: the whole line', () => {
      const s = new FakeStream(true);
      const sink = progressSink('tty', 7, s);
      sink.update(report(3, 0.25, 12.5, 0.24));
      assert.equal(s.text, `${REDRAW}[##########--------------]  42% 3/7  loss 0.2500  12.5 steps/s  ETA 0:00`);
    });
  });

  describe("'lines': a plain line per report (stderr is a file or a pipe)", () => {
    it('one `step N/TOTAL loss L R steps/s` line per update, nothing at finish', () => {
      const s = new FakeStream(false, 20);
      const sink = progressSink('lines', total, s);
      sink.update(a);
      sink.update(b);
      sink.finish();
      assert.deepEqual(s.chunks, [
        'step 100/2000 loss -0.8123 210 steps/s\n',
        'step 200/2000 loss -0.9000 220 steps/s\n',
      ]);
      assert.ok(!s.text.includes('\r') && !s.text.includes('\x1b'), 'no carriage return or escape code in a file');
    });
  });

  describe("'quiet'", () => {
    it('writes nothing', () => {
      const s = new FakeStream(true, 80);
      const sink = progressSink('quiet', total, s);
      sink.update(a);
      sink.finish();
      assert.deepEqual(s.chunks, []);
    });
  });
});

describe('progress: ebm train on a terminal and on a pipe', function () {
  this.timeout(120_000);
  let dir: string;
  const config = {
    name: 'progress',
    data: { toy: '8gaussians', n: 500, seed: 0 },
    model: { kind: 'mlp', inputDim: 2, hidden: [16], activation: 'silu', seed: 0 },
    train: {
      loss: { kind: 'ed', t: 1, m: 4, w: 1 },
      optimizer: { kind: 'adam', lr: 0.003 },
      batchSize: 32,
      steps: 40,
      seed: 0,
      logEvery: 10,
    },
    eval: {
      grid: { lo: -4, hi: 4, resolution: 20 },
      samples: { n: 20, seed: 1, sampler: { kind: 'langevin', steps: 5, stepSize: 0.01 } },
    },
  };

  before(() => {
    dir = tmpDir('ebm-progress-');
    fs.writeFileSync(path.join(dir, 'progress.json'), JSON.stringify(config));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

  it('a terminal (a pseudo-terminal 60 columns wide) gets one bar redrawn per report, then a newline', async function () {
    // util-linux `script` runs the command on a pseudo-terminal: stderr.isTTY is true there
    if (process.platform !== 'linux' || spawnSync('script', ['--version']).status !== 0) this.skip();
    const command =
      `stty cols 60 rows 24 && exec ${quote(process.execPath)} ${quote(CLI)} ` + `train progress.json --out tty-run`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile('script', ['-qec', command, '/dev/null'], { cwd: dir, timeout: 90_000 }, (err, stdout) =>
        err ? reject(new Error(`${err.message}\n${stdout}`)) : resolve(stdout),
      );
    });
    // the terminal turns each '\n' into '\r\n'
    const text = out.replace(/\r\n/g, '\n');
    const start = text.indexOf(REDRAW);
    assert.ok(start > 0, `a redraw on the terminal:\n${JSON.stringify(text)}`);
    assert.equal(text[start - 1], '\n', 'the bar starts on a fresh line');
    const end = text.indexOf('\n', start);
    const draws = text.slice(start, end).split(REDRAW).slice(1);
    assert.equal(draws.length, 4, JSON.stringify(draws));
    draws.forEach((d, i) => {
      assert.ok(d.length <= 59, `fits 60 columns: ${JSON.stringify(d)}`);
      const step = 10 * (i + 1);
      const pct = `${(100 * step) / 40}%`.padStart(4);
      assert.ok(d.startsWith(`[${'#'.repeat(6 * (i + 1))}`), d);
      assert.match(d, new RegExp(`^\\[[#-]{24}\\] ${pct} ${step}/40  loss -?\\d+\\.\\d{4}`), d);
    });
    assert.doesNotMatch(text, /^step \d+\/40 /m, 'no plain progress lines on a terminal');
    // the summary comes after the bar, on its own line
    assert.match(text.slice(end + 1), /^progress: 40 steps in [\d.]+ s \(/m);
    assert.ok(fs.existsSync(path.join(dir, 'tty-run', 'metrics.json')));
  });

  it('a pipe gets plain lines every logEvery steps, with no escape codes', async () => {
    const stderr = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [CLI, 'train', 'progress.json', '--out', 'pipe-run'],
        { cwd: dir, timeout: 90_000 },
        (err, _stdout, err2) => (err ? reject(new Error(`${err.message}\n${err2}`)) : resolve(err2)),
      );
    });
    assert.ok(!stderr.includes('\r') && !stderr.includes('\x1b'), JSON.stringify(stderr));
    const steps = stderr.split('\n').filter((l) => l.startsWith('step '));
    assert.deepEqual(
      steps.map((l) => l.replace(/ loss .*$/, '')),
      ['step 10/40', 'step 20/40', 'step 30/40', 'step 40/40'],
    );
    for (const l of steps) assert.match(l, /^step \d+\/40 loss -?\d+\.\d{4} [\d.]+ steps\/s$/);
  });
});
