/** The experiments of `npm run reproduce`, in README order. */
import type { Experiment } from './common';
import { boltzmann } from './boltzmann';
import { composition } from './composition';
import { diffClf } from './diffclf';
import { diffClfReference } from './diffclf-reference';
import { gradientFlow } from './gradient-flow';
import { latentPrior } from './latent-prior';
import { modeBlindness } from './mode-blindness';
import { toys } from './toys';

export const experiments: Array<Experiment<never>> = [
  modeBlindness,
  toys,
  diffClf,
  diffClfReference,
  composition,
  gradientFlow,
  latentPrior,
  boltzmann,
] as unknown as Array<Experiment<never>>;

export const experimentNames = experiments.map((e) => e.name);

export function recordFile(name: string): string {
  return `reproduce-${name}.json`;
}
