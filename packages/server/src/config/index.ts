export { configKeysOf, envName, type LoadConfigOptions, loadConfigWith } from './load.ts';
export { composeConfigSchema, type NodeConfig, nodeConfigSchema } from './schema.ts';
