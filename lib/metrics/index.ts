export {
  gridNll,
  gridEnergy,
  gridPoints,
  gridStepRatio,
  checkGridResolves,
  logSumExp,
  MAX_GRID_STEP_RATIO,
  MAX_PEAK_MISS_NATS,
} from './grid';
export type { GridOptions, GridEnergy } from './grid';
export {
  mmd,
  medianDistance,
  assignModes,
  modeWeights,
  withinModeStd,
  r2UpToConstant,
  ess,
  meanAndCovariance,
} from './stats';
export type { MmdOptions } from './stats';
export {
  classifierFeatures,
  classifierLogits,
  classifierAccuracy,
  frechetDistance,
  fashionClassifier,
  defaultClassifierCache,
} from './frechet';
export type { FashionClassifierOptions } from './frechet';
export { inpaintMask, imageMse, meanFill } from './images';
export type { MaskKind } from './images';
export { imagePrior, imagePriorWithImages, psnr, IMAGE_PRIOR_MASKS } from './image-prior';
export type {
  ImagePriorOptions,
  ImagePriorResult,
  ImagePriorImages,
  ImagePriorPhase,
  DenoiseScore,
} from './image-prior';
export { rhat, ksd, RHAT_MIN_DRAWS, KSD_MAX_ROWS } from './diagnostics';
export type { RhatResult, KsdOptions, KsdResult } from './diagnostics';
export { logPartition, nll } from '../smc';
