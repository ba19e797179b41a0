export { toy, toyMixture, toyLogDensity, toyNames } from './toy';
export type { ToyName, ToyMixture } from './toy';
