import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import {
  AppConfig,
  type Cidr,
  type DatabaseTarget,
  type LogLevel,
  type PathPolicy,
  type Role,
  type SqliteSynchronous,
  type S3Settings,
  type StorageBackend,
  type TokenEntry,
} from './app-config.js';
import { ConfigError } from './config.errors.js';

export type Environment = Readonly<Record<string, string | undefined>>;

/** One documented variable: its default (as text, for the README) and what it accepts. */
export interface ConfigVariable {
  readonly name: string;
  readonly default: string;
  readonly description: string;
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** Every variable the server reads. The README's configuration table is checked against this list by a test. */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = [
  { name: 'ARTIFACTSTORE_HOST', default: '127.0.0.1', description: 'Address the HTTP server binds to.' },
  {
    name: 'ARTIFACTSTORE_PORT',
    default: '8080',
    description: 'TCP port of the HTTP server (0 picks a free one).',
  },
  {
    name: 'ARTIFACTSTORE_DATA_DIR',
    default: './data',
    description: 'Folder for the embedded database and blobs; created when missing.',
  },
  {
    name: 'ARTIFACTSTORE_DATABASE_URL',
    default: 'sqlite:<DATA_DIR>/artifactstore.db',
    description: '`sqlite:<path>` (embedded) or `postgres://user@host:port/db` (production).',
  },
  {
    name: 'ARTIFACTSTORE_DATABASE_POOL_SIZE',
    default: '10',
    description: 'PostgreSQL connections in the pool (1–1000).',
  },
  {
    name: 'ARTIFACTSTORE_SQLITE_SYNCHRONOUS',
    default: 'full',
    description:
      '`full`: an acknowledged write survives power loss; `normal`: faster, may lose the last commits.',
  },
  { name: 'ARTIFACTSTORE_LOG_LEVEL', default: 'info', description: `One of ${LOG_LEVELS.join(', ')}.` },
  {
    name: 'ARTIFACTSTORE_MIGRATE_ON_START',
    default: 'true',
    description: 'Apply pending migrations at startup; `false` for deployments that run `npm run migrate`.',
  },
  {
    name: 'ARTIFACTSTORE_STORAGE',
    default: 'fs',
    description:
      'Blob storage backend: `fs` (files under `<DATA_DIR>/blobs`) or `s3` (the ARTIFACTSTORE_S3_* below).',
  },
  {
    name: 'ARTIFACTSTORE_FS_DIRECT_IO',
    default: 'true',
    description:
      'With `fs` storage, write and read blobs with O_DIRECT, past the page cache (Linux; off by itself where the filesystem refuses it). `false`: through the page cache, for hosts that serve the same files again and again from memory.',
  },
  {
    name: 'ARTIFACTSTORE_S3_ENDPOINT',
    default: '(AWS)',
    description: 'S3 endpoint URL, e.g. `http://127.0.0.1:7480` for radosgw or MinIO; unset for AWS itself.',
  },
  { name: 'ARTIFACTSTORE_S3_REGION', default: 'us-east-1', description: 'S3 region.' },
  {
    name: 'ARTIFACTSTORE_S3_BUCKET',
    default: '(required for s3)',
    description: 'The bucket holding the blobs.',
  },
  {
    name: 'ARTIFACTSTORE_S3_PREFIX',
    default: '(none)',
    description: 'Prefix of every object key, e.g. `artifactstore/` to share a bucket.',
  },
  {
    name: 'ARTIFACTSTORE_S3_FORCE_PATH_STYLE',
    default: 'false',
    description: '`true` for servers without virtual-hosted buckets (radosgw, MinIO on an IP address).',
  },
  {
    name: 'ARTIFACTSTORE_S3_ACCESS_KEY_ID',
    default: '(SDK default chain)',
    description: 'Access key; with the secret below. Unset: the AWS SDK default credential chain.',
  },
  {
    name: 'ARTIFACTSTORE_S3_SECRET_ACCESS_KEY',
    default: '(SDK default chain)',
    description: 'Secret key for the access key above.',
  },
  {
    name: 'ARTIFACTSTORE_S3_CREATE_BUCKET',
    default: 'true',
    description: 'Create the bucket at startup when it is missing.',
  },
  {
    name: 'ARTIFACTSTORE_TAIL_POLL_INTERVAL_MS',
    default: '1000',
    description: 'How often a tail polls the log when no notification arrives (10–60000).',
  },
  {
    name: 'ARTIFACTSTORE_TOKENS_FILE',
    default: '(none: local mode)',
    description:
      'JSON array of `{name, token_sha256, role}` (role `reader`, `producer` or `admin`). Without it every request is the admin `local`.',
  },
  {
    name: 'ARTIFACTSTORE_ALLOW_ANONYMOUS',
    default: 'false',
    description: 'Allow local mode (no tokens) on a non-loopback address.',
  },
  {
    name: 'ARTIFACTSTORE_MAX_FILE_SIZE',
    default: '10GiB',
    description: 'Largest file accepted: bytes, or a number with KiB, MiB, GiB or TiB.',
  },
  {
    name: 'ARTIFACTSTORE_PATH_POLICY',
    default: 'portable',
    description:
      "`portable`: a new file's path must be writable on every common filesystem (no `CON` or `nul.txt`, no segment ending in a dot or a space, no bidirectional controls, no two paths of a package differing only by letter case; docs/formats.md). `posix`: any path POSIX takes.",
  },
  {
    name: 'ARTIFACTSTORE_TRUSTED_PROXIES',
    default: '(none)',
    description:
      'Comma-separated CIDRs (IPv4 or IPv6; a bare address is one host) of gateways whose X-Forwarded-User, X-Forwarded-Role and X-Forwarded-For are believed.',
  },
  {
    name: 'ARTIFACTSTORE_SHUTDOWN_GRACE_MS',
    default: '30000',
    description:
      'On SIGTERM, how long in-flight requests may still run before their connections are cut (0–3600000).',
  },
  {
    name: 'ARTIFACTSTORE_MAX_WAITING_CLIENTS',
    default: '1000',
    description:
      'Most long-polls and event streams held open at once; past it, 503 with Retry-After (1–1000000).',
  },
  {
    name: 'ARTIFACTSTORE_KEEP_ALIVE_TIMEOUT_SECONDS',
    default: '65',
    description:
      'Seconds an idle connection is kept open for the next request (1–3600); keep it above the idle timeout of any gateway in front (60 s for most).',
  },
  {
    name: 'ARTIFACTSTORE_SSE_HEARTBEAT_SECONDS',
    default: '15',
    description:
      'Seconds between the comment lines that keep an idle event stream open through proxies (1–60, below the 120 s idle timeout).',
  },
];

/** Variables with this prefix belong to the test harness, not the server. */
const NOT_CONFIG_PREFIXES = ['ARTIFACTSTORE_TEST_'];

/**
 * Reads and validates the configuration. Every problem is collected and reported together, each naming its
 * variable; a variable with the ARTIFACTSTORE_ prefix that the schema does not know is an error too, because a
 * typo (ARTIFACTSTORE_PROT) would otherwise be silently ignored.
 */
export function loadConfig(env: Environment, cwd: string = process.cwd()): AppConfig {
  const problems: string[] = [];
  const read = <T>(name: string, fallback: string, parse: (text: string) => T): T | undefined => {
    const raw = env[name];
    const text = raw === undefined || raw.trim() === '' ? fallback : raw.trim();
    try {
      return parse(text);
    } catch (error) {
      if (!(error instanceof Expected)) throw error;
      problems.push(`${name}: ${error.message}, got ${JSON.stringify(raw)}`);
      return undefined;
    }
  };

  const host = read('ARTIFACTSTORE_HOST', '127.0.0.1', parseHost);
  const port = read('ARTIFACTSTORE_PORT', '8080', integerIn(0, 65535));
  const dataDir = read('ARTIFACTSTORE_DATA_DIR', './data', (text) => resolve(cwd, text));
  const database = read('ARTIFACTSTORE_DATABASE_URL', '', (text) =>
    parseDatabaseUrl(text, dataDir ?? resolve(cwd, 'data'), cwd),
  );
  const databasePoolSize = read('ARTIFACTSTORE_DATABASE_POOL_SIZE', '10', integerIn(1, 1000));
  const sqliteSynchronous = read(
    'ARTIFACTSTORE_SQLITE_SYNCHRONOUS',
    'full',
    oneOf<SqliteSynchronous>(['full', 'normal']),
  );
  const logLevel = read('ARTIFACTSTORE_LOG_LEVEL', 'info', oneOf<LogLevel>(LOG_LEVELS));
  const migrateOnStart = read('ARTIFACTSTORE_MIGRATE_ON_START', 'true', parseBoolean);
  const tailPollIntervalMs = read('ARTIFACTSTORE_TAIL_POLL_INTERVAL_MS', '1000', integerIn(10, 60_000));
  const storage = read('ARTIFACTSTORE_STORAGE', 'fs', oneOf<StorageBackend>(['fs', 's3']));
  const fsDirectIo = read('ARTIFACTSTORE_FS_DIRECT_IO', 'true', parseBoolean);
  const s3 = storage === 's3' ? readS3Settings(env, read, problems) : undefined;
  const tokens = read('ARTIFACTSTORE_TOKENS_FILE', '', (text) =>
    text === '' ? [] : readTokensFile(resolve(cwd, text)),
  );
  const allowAnonymous = read('ARTIFACTSTORE_ALLOW_ANONYMOUS', 'false', parseBoolean);
  const maxFileSize = read('ARTIFACTSTORE_MAX_FILE_SIZE', '10GiB', parseByteSize);
  const pathPolicy = read('ARTIFACTSTORE_PATH_POLICY', 'portable', oneOf<PathPolicy>(['portable', 'posix']));
  const trustedProxies = read('ARTIFACTSTORE_TRUSTED_PROXIES', '', parseCidrList);
  const shutdownGraceMs = read('ARTIFACTSTORE_SHUTDOWN_GRACE_MS', '30000', integerIn(0, 3_600_000));
  const maxWaitingClients = read('ARTIFACTSTORE_MAX_WAITING_CLIENTS', '1000', integerIn(1, 1_000_000));
  const keepAliveTimeoutSeconds = read('ARTIFACTSTORE_KEEP_ALIVE_TIMEOUT_SECONDS', '65', integerIn(1, 3600));
  const sseHeartbeatSeconds = read('ARTIFACTSTORE_SSE_HEARTBEAT_SECONDS', '15', integerIn(1, 60));
  if (tokens?.length === 0 && allowAnonymous === false && host !== undefined && !isLoopback(host)) {
    problems.push(
      `ARTIFACTSTORE_HOST: ${host} is not a loopback address and no ARTIFACTSTORE_TOKENS_FILE is set; ` +
        'set one, or ARTIFACTSTORE_ALLOW_ANONYMOUS=true to serve everyone as admin',
    );
  }

  const known = new Set(CONFIG_VARIABLES.map((variable) => variable.name));
  for (const name of Object.keys(env)) {
    if (!name.startsWith('ARTIFACTSTORE_') || known.has(name)) continue;
    if (NOT_CONFIG_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    problems.push(`${name}: unknown variable (known: ${[...known].join(', ')})`);
  }

  if (
    problems.length > 0 ||
    host === undefined ||
    port === undefined ||
    dataDir === undefined ||
    database === undefined ||
    databasePoolSize === undefined ||
    sqliteSynchronous === undefined ||
    logLevel === undefined ||
    migrateOnStart === undefined ||
    tailPollIntervalMs === undefined ||
    storage === undefined ||
    fsDirectIo === undefined ||
    tokens === undefined ||
    allowAnonymous === undefined ||
    maxFileSize === undefined ||
    pathPolicy === undefined ||
    trustedProxies === undefined ||
    shutdownGraceMs === undefined ||
    maxWaitingClients === undefined ||
    keepAliveTimeoutSeconds === undefined ||
    sseHeartbeatSeconds === undefined
  ) {
    throw new ConfigError(problems);
  }
  return new AppConfig({
    host,
    port,
    dataDir,
    database,
    databasePoolSize,
    sqliteSynchronous,
    logLevel,
    migrateOnStart,
    tailPollIntervalMs,
    storage,
    fsDirectIo,
    s3,
    tokens,
    allowAnonymous,
    maxFileSize,
    pathPolicy,
    trustedProxies,
    shutdownGraceMs,
    maxWaitingClients,
    keepAliveTimeoutSeconds,
    sseHeartbeatSeconds,
  });
}

const ROLES: readonly Role[] = ['reader', 'producer', 'admin'];

/** The tokens file: a JSON array of {name, token_sha256, role}; names are unique, since they become actors. */
function readTokensFile(path: string): TokenEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    fail(`cannot read ${path} as JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) fail(`${path} must hold a non-empty JSON array`);
  const names = new Set<string>();
  return (parsed as unknown[]).map((entry, index) => {
    const where = `${path}[${index}]`;
    if (entry === null || typeof entry !== 'object') fail(`${where} must be an object`);
    const { name, token_sha256: tokenSha256, role } = entry as Record<string, unknown>;
    if (typeof name !== 'string' || !/^[^\p{Cc}]{1,256}$/u.test(name)) {
      fail(`${where}.name must be 1 to 256 characters without control characters`);
    }
    if (names.has(name)) fail(`${where}.name ${JSON.stringify(name)} appears twice`);
    names.add(name);
    if (typeof tokenSha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(tokenSha256)) {
      fail(`${where}.token_sha256 must be 64 hex digits (the SHA-256 of the token)`);
    }
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
      fail(`${where}.role must be one of ${ROLES.join(', ')}`);
    }
    return { name, tokenSha256: tokenSha256.toLowerCase(), role: role as Role };
  });
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  B: 1,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
};

function parseByteSize(text: string): number {
  const match = /^(\d+)\s*(B|KiB|MiB|GiB|TiB)?$/.exec(text);
  const bytes = match ? Number(match[1]) * (SIZE_UNITS[match[2] ?? ''] ?? NaN) : NaN;
  return Number.isSafeInteger(bytes) && bytes > 0
    ? bytes
    : fail('expected a size such as 10GiB, 500MiB or 1048576');
}

/** `10.0.0.0/8, fd00::/8, 192.0.2.7`: each an IP address with an optional prefix length (default: one host). */
function parseCidrList(text: string): Cidr[] {
  if (text === '') return [];
  return text.split(',').map((part) => {
    const entry = part.trim();
    const [address = '', prefix, ...rest] = entry.split('/');
    const version = isIP(address);
    if (version === 0 || rest.length > 0) fail(`${JSON.stringify(entry)} is not an IP address or CIDR`);
    const family = version === 4 ? 'ipv4' : 'ipv6';
    const bits = version === 4 ? 32 : 128;
    const length = prefix === undefined ? bits : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (!(length >= 0 && length <= bits))
      fail(`${JSON.stringify(entry)} has a prefix length outside 0–${bits}`);
    return { address, prefixLength: length, family };
  });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

type Reader = <T>(name: string, fallback: string, parse: (text: string) => T) => T | undefined;

/** ARTIFACTSTORE_S3_*, read only when the storage is s3. */
function readS3Settings(env: Environment, read: Reader, problems: string[]): S3Settings | undefined {
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const endpoint = read('ARTIFACTSTORE_S3_ENDPOINT', '', (value) => {
    if (value === '') return undefined;
    if (!/^https?:\/\/[^/]+\/?$/.test(value)) fail('expected http(s)://host[:port]');
    return value;
  });
  const bucket = text('ARTIFACTSTORE_S3_BUCKET');
  if (bucket === undefined) problems.push('ARTIFACTSTORE_S3_BUCKET: required when ARTIFACTSTORE_STORAGE=s3');
  else if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    problems.push(`ARTIFACTSTORE_S3_BUCKET: not an S3 bucket name, got ${JSON.stringify(bucket)}`);
  }
  const accessKeyId = text('ARTIFACTSTORE_S3_ACCESS_KEY_ID');
  const secretAccessKey = text('ARTIFACTSTORE_S3_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    problems.push(
      'ARTIFACTSTORE_S3_ACCESS_KEY_ID: set it and ARTIFACTSTORE_S3_SECRET_ACCESS_KEY together, or neither',
    );
  }
  const forcePathStyle = read('ARTIFACTSTORE_S3_FORCE_PATH_STYLE', 'false', parseBoolean);
  const createBucket = read('ARTIFACTSTORE_S3_CREATE_BUCKET', 'true', parseBoolean);
  if (bucket === undefined || forcePathStyle === undefined || createBucket === undefined) return undefined;
  return {
    ...(endpoint === undefined ? {} : { endpoint }),
    region: text('ARTIFACTSTORE_S3_REGION') ?? 'us-east-1',
    bucket,
    prefix: text('ARTIFACTSTORE_S3_PREFIX') ?? '',
    forcePathStyle,
    ...(accessKeyId === undefined ? {} : { accessKeyId }),
    ...(secretAccessKey === undefined ? {} : { secretAccessKey }),
    createBucket,
  };
}

/** A parser's complaint: what the variable should have held. */
class Expected extends Error {}

function fail(message: string): never {
  throw new Expected(message);
}

function integerIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = /^\d+$/.test(text) ? Number(text) : NaN;
    return Number.isSafeInteger(value) && value >= min && value <= max
      ? value
      : fail(`expected an integer from ${min} to ${max}`);
  };
}

function oneOf<T extends string>(choices: readonly T[]): (text: string) => T {
  return (text) => {
    const lower = text.toLowerCase();
    return (choices as readonly string[]).includes(lower)
      ? (lower as T)
      : fail(`expected one of ${choices.join(', ')}`);
  };
}

function parseBoolean(text: string): boolean {
  switch (text.toLowerCase()) {
    case 'true':
    case '1':
    case 'yes':
      return true;
    case 'false':
    case '0':
    case 'no':
      return false;
    default:
      throw new Expected('expected true or false');
  }
}

function parseHost(text: string): string {
  // A hostname or an IP literal; the bind itself reports an address that does not exist on this machine.
  if (isIP(text) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(text)) return text;
  throw new Expected('expected a hostname or an IP address');
}

function parseDatabaseUrl(text: string, dataDir: string, cwd: string): DatabaseTarget {
  if (text === '') return { dialect: 'sqlite', path: resolve(dataDir, 'artifactstore.db') };
  if (text.startsWith('sqlite:')) {
    const path = text.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new Expected('expected sqlite:<path to the database file>');
    return { dialect: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  if (/^postgres(ql)?:\/\//.test(text)) {
    try {
      const url = new URL(text);
      if (url.hostname === '' || url.pathname.length <= 1)
        throw new Expected('expected postgres://user@host:port/database');
      return { dialect: 'postgres', url: text };
    } catch {
      throw new Expected('expected postgres://user@host:port/database');
    }
  }
  throw new Expected('expected sqlite:<path> or postgres://user@host:port/database');
}
