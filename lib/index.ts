export * from './errors';
export { tensor, checkTensor, checkFinite, rows, row } from './tensor';
export type { Tensor } from './tensor';
export { energyModel, loadModel, compose, EnergyModel, validateModelConfig, activations, modelKinds } from './model';
export type {
  ModelConfig,
  MlpConfig,
  ConvNetConfig,
  GaussianConfig,
  GmmConfig,
  DoubleWellConfig,
  ClassifierConfig,
  TorchScriptConfig,
  CompositionConfig,
  Activation,
  Device,
} from './model';
export {
  latentEbm,
  trainLatent,
  loadLatentEbm,
  LatentEbm,
  latentDefaults,
  validateLatentConfig,
  validateLatentTrainOptions,
} from './latent';
export type {
  LatentEbmConfig,
  LatentModelConfig,
  LatentChain,
  LatentPriorOptions,
  LatentTrainOptions,
  ResolvedLatentTrainOptions,
  GenerateOptions,
  PosteriorOptions,
} from './latent';
export { sample } from './sample';
export type { SampleOptions, SampleResult } from './sample';
export { smc } from './smc';
export type { SmcOptions, SmcResult, LogPartitionOptions, LogPartitionEstimate, NllEstimate } from './smc';
export { version, setNumThreads, kinds, memoryStats } from './runtime';
export { kindTraits } from './schema/traits';
export type { KindTraits, LossTraits, SamplerTraits } from './schema/traits';
export type { VersionInfo } from './runtime';
export type { MemoryStats } from './native';
export { train, evaluateLoss } from './train';
export { resolveDistributed } from './distributed';
export type { DistributedOptions, DistributedSetting } from './distributed';
export type { TrainConfig, TrainProgress, TrainRun, LossEvaluation, LossMetric, LatentMetric } from './train';
export * as datasets from './data';
export * as metrics from './metrics';
export * as plot from './plot';
export { RunLog, writeFileAtomic } from './log/run';
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
  CeLossConfig,
  EdLossConfig,
  DsmSigmaLossConfig,
  DsmPathLossConfig,
  DiffClfLossConfig,
  CdLossConfig,
  SsmLossConfig,
  SamplerConfig,
  LangevinConfig,
  SmcConfig,
  MalaConfig,
  HmcConfig,
  AnnealedConfig,
  WgfConfig,
  AdaptOptions,
  OptimizerConfig,
  ScheduleConfig,
  TrainOptions,
  PathOptions,
  NoisePathKind,
} from './config';
