export { configKeys, envName, type LoadConfigOptions, loadConfig } from './load.ts';
export { type Config, type ConfigInput, configSchema } from './schema.ts';
