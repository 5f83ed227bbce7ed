import type { SETTINGS, ValuesOf } from './config.schema.js';

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
/** Who may do what: readers read, producers also write packages, admins also reach /v1/admin. */
export const ROLES = ['reader', 'producer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

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

/** The value of every variable of the table in config.schema.ts, by the field it fills. */
export type ConfigValues = ValuesOf<typeof SETTINGS>;

/** Everything AppConfig holds: the table's values, and the S3 group assembled when the storage is `s3`. */
export interface AppConfigValues extends ConfigValues {
  /** Set exactly when storage is `s3`. */
  readonly s3: S3Settings | undefined;
}

/** A class whose instances are `T`'s values, frozen one level deep (arrays and objects inside too). */
function frozenValues<T extends object>(): new (values: T) => Readonly<T> {
  // eslint-disable-next-line @typescript-eslint/no-extraneous-class -- a record of values needs only its constructor
  return class {
    constructor(values: T) {
      for (const [key, value] of Object.entries(values)) {
        (this as Record<string, unknown>)[key] = freezeCopy(value);
      }
      Object.freeze(this);
    }
  } as new (values: T) => Readonly<T>;
}

function freezeCopy(value: unknown): unknown {
  if (Array.isArray(value)) return Object.freeze(value.map((item) => freezeCopy(item)));
  if (value !== null && typeof value === 'object') return Object.freeze({ ...value });
  return value;
}

/**
 * The validated configuration, read once at boot by `loadConfig` (config.schema.ts, whose table says what each
 * field means) and injected as a typed provider. Nothing else in the code base reads process.env.
 */
export class AppConfig extends frozenValues<AppConfigValues>() {}
