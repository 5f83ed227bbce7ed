/**
 * @artifactstore/config — the one validated configuration schema. `loadConfig(env)` is the only reader of
 * environment variables in the code base; everything else injects `AppConfig`.
 */
export {
  AppConfig,
  type AppConfigValues,
  type ConfigValues,
  ROLES,
  type Cidr,
  type DatabaseTarget,
  type LogLevel,
  type PathPolicy,
  type SqliteSynchronous,
  type StorageBackend,
  type S3Settings,
  type Role,
  type TokenEntry,
} from './app-config.js';
export {
  loadConfig,
  configurationReference,
  CONFIG_VARIABLES,
  type Setting,
  type Environment,
} from './config.schema.js';
export { ConfigError } from './config.errors.js';
export { ConfigModule } from './config.module.js';
export { Clock } from './clock.js';
