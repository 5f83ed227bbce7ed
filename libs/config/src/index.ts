/**
 * @artifactstore/config — the one validated configuration schema. `loadConfig(env)` is the only reader of
 * environment variables in the code base; everything else injects `AppConfig`.
 */
export {
  AppConfig,
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
export { loadConfig, CONFIG_VARIABLES, type ConfigVariable, type Environment } from './config.schema.js';
export { ConfigError } from './config.errors.js';
export { ConfigModule } from './config.module.js';
