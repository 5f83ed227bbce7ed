/** Where the views and the event log live. */
export type DatabaseTarget =
  | { readonly dialect: 'sqlite'; readonly path: string }
  | { readonly dialect: 'postgres'; readonly url: string };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
export type SqliteSynchronous = 'full' | 'normal';
export type StorageBackend = 'fs' | 's3';
/**
 * What relative paths a new file may have: `portable` ones only (writable on Windows and macOS too: no device
 * names, no trailing dot or space, no bidirectional controls, no two paths of a package differing only by letter
 * case), or anything POSIX takes (`posix`).
 */
export type PathPolicy = 'portable' | 'posix';

/** The S3 backend's settings (ARTIFACTSTORE_S3_*); credentials unset = the AWS SDK's default chain. */
export interface S3Settings {
  readonly endpoint?: string;
  readonly region: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly forcePathStyle: boolean;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  readonly createBucket: boolean;
}
export type Role = 'reader' | 'producer' | 'admin';

/** One entry of the tokens file: who the bearer is, the SHA-256 of their token (lowercase hex), their role. */
export interface TokenEntry {
  readonly name: string;
  readonly tokenSha256: string;
  readonly role: Role;
}

/** One range of ARTIFACTSTORE_TRUSTED_PROXIES, e.g. 10.0.0.0/8 or fd00::/8. */
export interface Cidr {
  readonly address: string;
  readonly prefixLength: number;
  readonly family: 'ipv4' | 'ipv6';
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
  /** With `fs` storage: blobs written and read with O_DIRECT (where the platform and filesystem allow it). */
  readonly fsDirectIo: boolean;
  /** Set exactly when storage is `s3`. */
  readonly s3: S3Settings | undefined;
  /** Bearer tokens; empty = local mode (no auth, every request is the admin `local`). */
  readonly tokens: readonly TokenEntry[];
  /** Local mode on a non-loopback address was asked for explicitly. */
  readonly allowAnonymous: boolean;
  /** Largest file accepted, in bytes, enforced while streaming. */
  readonly maxFileSize: number;
  /** The rule new files' relative paths must follow; files already stored are kept whatever it is. */
  readonly pathPolicy: PathPolicy;
  /** Peers whose X-Forwarded-User/-Role/-For headers are believed; empty = nobody's. */
  readonly trustedProxies: readonly Cidr[];
  /** On SIGTERM, how long in-flight requests may still run before their connections are cut. */
  readonly shutdownGraceMs: number;
  /** Most long-polls and event streams held open at once. */
  readonly maxWaitingClients: number;
  /**
   * Seconds an idle connection is kept open for its next request (advertised as `Keep-Alive: timeout=N`); above
   * a gateway's upstream idle timeout, so that the gateway, not the server, closes an idle connection.
   */
  readonly keepAliveTimeoutSeconds: number;
  /** Seconds between the comment lines that keep an idle event stream open through proxies. */
  readonly sseHeartbeatSeconds: number;

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
    this.fsDirectIo = values.fsDirectIo;
    this.s3 = values.s3 === undefined ? undefined : Object.freeze({ ...values.s3 });
    this.tokens = Object.freeze(values.tokens.map((token) => Object.freeze({ ...token })));
    this.allowAnonymous = values.allowAnonymous;
    this.maxFileSize = values.maxFileSize;
    this.pathPolicy = values.pathPolicy;
    this.trustedProxies = Object.freeze(values.trustedProxies.map((cidr) => Object.freeze({ ...cidr })));
    this.shutdownGraceMs = values.shutdownGraceMs;
    this.maxWaitingClients = values.maxWaitingClients;
    this.keepAliveTimeoutSeconds = values.keepAliveTimeoutSeconds;
    this.sseHeartbeatSeconds = values.sseHeartbeatSeconds;
    Object.freeze(this);
  }
}
