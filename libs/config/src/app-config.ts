/** Where the views and the event log live. */
export type DatabaseTarget =
  | { readonly dialect: 'sqlite'; readonly path: string }
  | { readonly dialect: 'postgres'; readonly url: string };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
export type SqliteSynchronous = 'full' | 'normal';
export type StorageBackend = 'fs';
export type Role = 'reader' | 'producer' | 'admin';

/** One entry of the tokens file: who the bearer is, the SHA-256 of their token (lowercase hex), their role. */
export interface TokenEntry {
  readonly name: string;
  readonly tokenSha256: string;
  readonly role: Role;
}

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
  /** Bearer tokens; empty = local mode (no auth, every request is the admin `local`). */
  readonly tokens: readonly TokenEntry[];
  /** Local mode on a non-loopback address was asked for explicitly. */
  readonly allowAnonymous: boolean;
  /** Largest file accepted, in bytes, enforced while streaming. */
  readonly maxFileSize: number;

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
    this.tokens = Object.freeze(values.tokens.map((token) => Object.freeze({ ...token })));
    this.allowAnonymous = values.allowAnonymous;
    this.maxFileSize = values.maxFileSize;
    Object.freeze(this);
  }
}
