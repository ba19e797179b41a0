export * from './errors';
export { tensor, checkTensor, checkFinite, rows, row } from './tensor';
export type { Tensor } from './tensor';
export { energyModel, loadModel, EnergyModel, validateModelConfig, activations, modelKinds } from './model';
export type { ModelConfig, MlpConfig, Activation, Device } from './model';
export { version, setNumThreads } from './runtime';
export type { VersionInfo } from './runtime';
