/** `node dist/test/fuzz/child.js <group> <results file>`: runs one fuzz group (see harness.ts). */
import * as path from 'node:path';
import { scratchDir } from './fixtures';
import { Group, runGroup } from './harness';
import { modelGroup } from './group-model';
import { trainGroup } from './group-train';
import { sampleGroup } from './group-sample';
import { latentGroup } from './group-latent';
import { dataGroup } from './group-data';
import { metricsGroup } from './group-metrics';
import { plotGroup } from './group-plot';
import { cliGroup } from './group-cli';

export const groups: Record<string, () => Promise<Group>> = {
  train: trainGroup,
  cli: cliGroup,
  sample: sampleGroup,
  metrics: metricsGroup,
  latent: latentGroup,
  plot: plotGroup,
  data: dataGroup,
  model: modelGroup,
};

/** The groups, the slowest first (the parent runs them two at a time). */
export const groupNames = Object.keys(groups);

async function main(): Promise<void> {
  const [name, resultsFile] = process.argv.slice(2);
  const make = groups[name];
  if (!make || !resultsFile) throw new Error(`usage: child.js <${Object.keys(groups).join('|')}> <results file>`);
  const results = path.resolve(resultsFile);
  // relative paths a case writes (a run folder named 'text') land in a scratch folder
  process.chdir(scratchDir('cwd'));
  await runGroup(await make(), results);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`fuzz child: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(5);
    },
  );
}
