/** `ebm plot <runDir>`: redraws a run folder's pictures from its files. */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { EbmError, EbmIoError, Tensor, loadModel } from '../index';
import { writeFileAtomic } from '../log/run';
import { optionDefaults } from '../schema/defaults';
import { displayPath, parseCommand } from './args';
import { densityFigure, is2dShape, lossPng, parseMetricsJsonl } from './figures';
import { latentLossPng } from './latent-figures';
import { fitRows, loadData } from '../data/spec';
import { GridSpec, RunConfig, defaultBox, defaultGridResolution, readJsonFile } from './run-config';

export const plotHelp = `Usage: ebm plot <runDir>

Redraws the pictures of a run folder written by 'ebm train':
  loss.png     from metrics.jsonl
  density.png  2D models: exp(-E) from model.safetensors on the run's grid (eval.grid in
               config.json), with data points on top when the run's data can still be loaded
Prints the files written, one per line.

Options:
  -h, --help   show this help

Example:
  ebm plot runs/8gaussians-ed`;

interface SavedConfig {
  config?: Partial<RunConfig>;
}

export async function plotCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommand('ebm plot', argv, {}, ['runDir']);
  const dir = args.positionals[0];
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new EbmIoError(`run folder ${dir} does not exist`);
  }
  const file = (name: string): string => nodePath.join(dir, name);
  const metricsFile = file('metrics.jsonl');
  if (!fs.existsSync(metricsFile)) {
    throw new EbmIoError(`${metricsFile} not found; is ${dir} a run folder written by 'ebm train'?`);
  }
  const saved = fs.existsSync(file('config.json'))
    ? (readJsonFile(file('config.json'), 'run config') as SavedConfig)
    : {};
  const config = saved.config ?? {};
  const name = typeof config.name === 'string' ? config.name : nodePath.basename(nodePath.resolve(dir));
  const written: string[] = [];

  const { records, skipped } = parseMetricsJsonl(fs.readFileSync(metricsFile, 'utf8'));
  if (records.length === 0) {
    const unreadable = skipped > 0 ? ` (${skipped} unreadable line(s))` : '';
    throw new EbmIoError(`${metricsFile} holds no training records${unreadable}`);
  }
  if (skipped > 0) process.stderr.write(`ebm: skipped ${skipped} unreadable line(s) of ${metricsFile}\n`);
  const latent = (config.model as { kind?: string } | undefined)?.kind === 'latent';
  const lossFigure = latent
    ? latentLossPng(records, `${name}: reconstruction error`)
    : lossPng(records, `${name}: training loss`);
  writeFileAtomic(file('loss.png'), lossFigure);
  written.push(file('loss.png'));

  if (fs.existsSync(file('model.safetensors'))) {
    const model = await loadModel(file('model.safetensors'));
    if (is2dShape(model.inputShape)) {
      let points: Tensor | undefined;
      if (config.data !== undefined) {
        try {
          points = fitRows(loadData(config.data).train, [2], 'data');
        } catch (err) {
          if (!(err instanceof EbmError)) throw err;
          process.stderr.write(`ebm: drawing without data points: ${err.message}\n`);
        }
      }
      const grid: GridSpec = config.eval?.grid ?? {
        ...(points ? defaultBox(points) : { lo: -4, hi: 4 }),
        resolution: defaultGridResolution(),
      };
      const loss = config.train?.loss as { tMin?: number } | undefined;
      const t = model.timeConditioned ? (config.eval?.t ?? loss?.tMin ?? optionDefaults().loss.dsm.tMin) : undefined;
      const title = `${name}: exp(-E)${t !== undefined ? ` at t = ${t}` : ''}`;
      writeFileAtomic(file('density.png'), await densityFigure(model, grid, title, points, t));
      written.push(file('density.png'));
    }
  }
  process.stdout.write(written.map((f) => displayPath(nodePath.resolve(f))).join('\n') + '\n');
  return 0;
}
