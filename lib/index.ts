export * from './errors';
export { tensor, checkTensor, checkFinite, rows, row } from './tensor';
export type { Tensor } from './tensor';
export { energyModel, loadModel, EnergyModel, validateModelConfig, activations, modelKinds } from './model';
export type { ModelConfig, MlpConfig, Activation, Device } from './model';
export { version, setNumThreads } from './runtime';
export type { VersionInfo } from './runtime';
export { train, evaluateLoss } from './train';
export type { TrainConfig, TrainProgress, TrainRun, LossEvaluation } from './train';
export * as datasets from './data';
export * as metrics from './metrics';
export {
  validateLossConfig,
  validateSamplerConfig,
  validateOptimizerConfig,
  validateTrainOptions,
  lossKinds,
  samplerKinds,
} from './config';
export type {
  LossConfig,
  EdLossConfig,
  DsmSigmaLossConfig,
  DsmPathLossConfig,
  DiffClfLossConfig,
  CdLossConfig,
  SsmLossConfig,
  SamplerConfig,
  LangevinConfig,
  OptimizerConfig,
  ScheduleConfig,
  TrainOptions,
  PathOptions,
} from './config';
