/** Where the views and the event log live. */
export type DatabaseTarget =
  | { readonly dialect: 'sqlite'; readonly path: string }
  | { readonly dialect: 'postgres'; readonly url: string };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
export type SqliteSynchronous = 'full' | 'normal';
export type StorageBackend = 'fs';

/**
 * The validated configuration, read once at boot (see config.schema.ts for the variables) and injected as a typed
 * provider. Nothing else in the code base reads process.env.
 */
export class AppConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly database: DatabaseTarget;
  readonly databasePoolSize: number;
  readonly sqliteSynchronous: SqliteSynchronous;
  readonly logLevel: LogLevel;
  readonly migrateOnStart: boolean;
  readonly tailPollIntervalMs: number;
  readonly storage: StorageBackend;

  constructor(values: Omit<AppConfig, never>) {
    this.host = values.host;
    this.port = values.port;
    this.dataDir = values.dataDir;
    this.database = values.database;
    this.databasePoolSize = values.databasePoolSize;
    this.sqliteSynchronous = values.sqliteSynchronous;
    this.logLevel = values.logLevel;
    this.migrateOnStart = values.migrateOnStart;
    this.tailPollIntervalMs = values.tailPollIntervalMs;
    this.storage = values.storage;
    Object.freeze(this);
  }
}
