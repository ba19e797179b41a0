export { gridNll, gridEnergy, gridPoints, logSumExp } from './grid';
export type { GridOptions, GridEnergy } from './grid';
