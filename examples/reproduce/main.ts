/**
 * `npm run reproduce`: the papers' claims as one command (issue 15). Runs the experiments, writes one JSON record
 * and the PNGs per experiment, and regenerates the README's "Results" section from the records.
 *
 *   npm run reproduce                              full size, into examples/results (about 45 min on 2 cores)
 *   npm run reproduce -- --only diffclf,toys       some experiments; the others' records stay as they are
 *   npm run reproduce -- --quick                   CI size (under 3 min), into runs/reproduce-quick; README untouched
 *   npm run reproduce -- --out DIR                 records and PNGs elsewhere (the README is left alone)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as ebm from '../../lib';
import { writeFileAtomic } from '../../lib/log/run';
import { ExperimentRecord, machineInfo, secondsSince } from './common';
import { experimentNames, experiments, recordFile } from './experiments';
import { formatJson } from './markdown';
import { resultsDir, updateReadme } from './readme';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const quick = values.quick === true;
  const only = values.only?.split(',').map((s) => s.trim()) ?? experimentNames;
  for (const name of only) {
    if (!experimentNames.includes(name)) {
      throw new ebm.EbmConfigError(`--only: unknown experiment '${name}'; one of ${experimentNames.join(', ')}`);
    }
  }
  const outDir = path.resolve(values.out ?? (quick ? 'runs/reproduce-quick' : resultsDir));
  const intoReadme = path.resolve(outDir) === path.resolve(resultsDir) && !quick;
  fs.mkdirSync(outDir, { recursive: true });
  const command = `npm run reproduce${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const v = ebm.version();
  console.log(
    `ebm-torch ${v.ebmTorch} on LibTorch ${v.torch}, ${v.numThreads} threads; ${quick ? 'quick' : 'full'} run of ${only.join(', ')} into ${outDir}`,
  );

  const started = process.hrtime.bigint();
  const summary: string[] = [];
  for (const e of experiments.filter((x) => only.includes(x.name))) {
    const load = os.loadavg()[0];
    const t0 = process.hrtime.bigint();
    const out = await e.run({ quick, log: (line) => console.log(`  ${line}`) });
    const wallSeconds = secondsSince(t0);
    const record: ExperimentRecord = {
      experiment: e.name,
      title: e.title,
      quick,
      generated: new Date().toISOString(),
      command,
      machine: machineInfo(load),
      wallSeconds,
      ...out,
      figures: Object.keys(out.figures),
    };
    for (const [name, png] of Object.entries(out.figures)) writeFileAtomic(path.join(outDir, name), png);
    writeFileAtomic(path.join(outDir, recordFile(e.name)), formatJson(record));
    const verdicts = out.claims.map((c) => (c.holds ? 'holds' : 'DOES NOT HOLD')).join(', ');
    summary.push(`${e.name}: ${wallSeconds.toFixed(0)} s; claims: ${verdicts || 'none'}`);
    console.log(`${e.name}: done in ${wallSeconds.toFixed(1)} s`);
    for (const c of out.claims) console.log(`  [${c.holds ? 'holds' : 'DOES NOT HOLD'}] ${c.claim}: ${c.measured}`);
  }
  console.log(`\n${summary.join('\n')}\ntotal ${(secondsSince(started) / 60).toFixed(1)} min`);
  if (intoReadme) updateReadme();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
