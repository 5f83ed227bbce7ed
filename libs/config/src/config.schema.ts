import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import {
  AppConfig,
  type Cidr,
  type ConfigValues,
  type DatabaseTarget,
  type LogLevel,
  type PathPolicy,
  ROLES,
  type SqliteSynchronous,
  type S3Settings,
  type StorageBackend,
  type TokenEntry,
} from './app-config.js';
import { ConfigError } from './config.errors.js';

export type Environment = Readonly<Record<string, string | undefined>>;

/** What a parser may need besides the text: where relative paths start, and the data folder already read. */
interface ParseContext {
  readonly cwd: string;
  readonly dataDir: string;
}

/**
 * One variable: its name, the text read when it is unset, what the reference shows as its default when that text
 * says nothing to a reader (`shown`), what it means, and how its text becomes a value (throwing `Expected` with
 * what it should have held).
 */
export interface Setting<T> {
  readonly name: string;
  readonly default: string;
  readonly shown?: string;
  readonly description: string;
  readonly parse: (text: string, context: ParseContext) => T;
}

/** Infers a setting's value type from its parser. */
function setting<T>(spec: Setting<T>): Setting<T> {
  return spec;
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/**
 * Every variable the server reads, in the order the reference lists them, keyed by the AppConfig field it fills.
 * This table is the single source: the typed config (ConfigValues), the validation and docs/configuration.md
 * (`npm run docs:config`) all come from it.
 */
export const SETTINGS = {
  host: setting({
    name: 'ARTIFACTSTORE_HOST',
    default: '127.0.0.1',
    description: 'Address the HTTP server binds to.',
    parse: parseHost,
  }),
  port: setting({
    name: 'ARTIFACTSTORE_PORT',
    default: '8080',
    description: 'TCP port of the HTTP server (0 picks a free one).',
    parse: integerIn(0, 65535),
  }),
  dataDir: setting({
    name: 'ARTIFACTSTORE_DATA_DIR',
    default: './data',
    description: 'Folder for the embedded database and blobs; created when missing.',
    parse: (text, { cwd }) => resolve(cwd, text),
  }),
  database: setting({
    name: 'ARTIFACTSTORE_DATABASE_URL',
    default: '',
    shown: 'sqlite:<DATA_DIR>/artifactstore.db',
    description: '`sqlite:<path>` (embedded) or `postgres://user@host:port/db` (production).',
    parse: parseDatabaseUrl,
  }),
  databasePoolSize: setting({
    name: 'ARTIFACTSTORE_DATABASE_POOL_SIZE',
    default: '10',
    description: 'PostgreSQL connections in the pool (1–1000).',
    parse: integerIn(1, 1000),
  }),
  sqliteSynchronous: setting({
    name: 'ARTIFACTSTORE_SQLITE_SYNCHRONOUS',
    default: 'full',
    description:
      '`full`: an acknowledged write survives power loss; `normal`: faster, may lose the last commits.',
    parse: oneOf<SqliteSynchronous>(['full', 'normal']),
  }),
  logLevel: setting({
    name: 'ARTIFACTSTORE_LOG_LEVEL',
    default: 'info',
    description: `One of ${LOG_LEVELS.join(', ')}.`,
    parse: oneOf<LogLevel>(LOG_LEVELS),
  }),
  migrateOnStart: setting({
    name: 'ARTIFACTSTORE_MIGRATE_ON_START',
    default: 'true',
    description: 'Apply pending migrations at startup; `false` for deployments that run `npm run migrate`.',
    parse: parseBoolean,
  }),
  storage: setting({
    name: 'ARTIFACTSTORE_STORAGE',
    default: 'fs',
    description:
      'Blob storage backend: `fs` (files under `<DATA_DIR>/blobs`) or `s3` (the ARTIFACTSTORE_S3_* below).',
    parse: oneOf<StorageBackend>(['fs', 's3']),
  }),
  fsDirectIo: setting({
    name: 'ARTIFACTSTORE_FS_DIRECT_IO',
    default: 'true',
    description:
      'With `fs` storage, write and read blobs with O_DIRECT, past the page cache (Linux; off by itself where the filesystem refuses it). `false`: through the page cache, for hosts that serve the same files again and again from memory.',
    parse: parseBoolean,
  }),
  tailPollIntervalMs: setting({
    name: 'ARTIFACTSTORE_TAIL_POLL_INTERVAL_MS',
    default: '1000',
    description: 'How often a tail polls the log when no notification arrives (10–60000).',
    parse: integerIn(10, 60_000),
  }),
  tokens: setting({
    name: 'ARTIFACTSTORE_TOKENS_FILE',
    default: '',
    shown: '(none: local mode)',
    description:
      'JSON array of `{name, token_sha256, role}` (role `reader`, `producer` or `admin`). Without it every request is the admin `local`.',
    parse: (text, { cwd }) => (text === '' ? [] : readTokensFile(resolve(cwd, text))),
  }),
  allowAnonymous: setting({
    name: 'ARTIFACTSTORE_ALLOW_ANONYMOUS',
    default: 'false',
    description: 'Allow local mode (no tokens) on a non-loopback address.',
    parse: parseBoolean,
  }),
  maxFileSize: setting({
    name: 'ARTIFACTSTORE_MAX_FILE_SIZE',
    default: '10GiB',
    description: 'Largest file accepted: bytes, or a number with KiB, MiB, GiB or TiB.',
    parse: parseByteSize,
  }),
  pathPolicy: setting({
    name: 'ARTIFACTSTORE_PATH_POLICY',
    default: 'portable',
    description:
      "`portable`: a new file's path must be writable on every common filesystem (no `CON` or `nul.txt`, no segment ending in a dot or a space, no bidirectional controls, no two paths of a package differing only by letter case; docs/formats.md). `posix`: any path POSIX takes.",
    parse: oneOf<PathPolicy>(['portable', 'posix']),
  }),
  trustedProxies: setting({
    name: 'ARTIFACTSTORE_TRUSTED_PROXIES',
    default: '',
    shown: '(none)',
    description:
      'Comma-separated CIDRs (IPv4 or IPv6; a bare address is one host) of gateways whose X-Forwarded-User, X-Forwarded-Role and X-Forwarded-For are believed.',
    parse: parseCidrList,
  }),
  shutdownGraceMs: setting({
    name: 'ARTIFACTSTORE_SHUTDOWN_GRACE_MS',
    default: '30000',
    description:
      'On SIGTERM, how long in-flight requests may still run before their connections are cut (0–3600000).',
    parse: integerIn(0, 3_600_000),
  }),
  maxWaitingClients: setting({
    name: 'ARTIFACTSTORE_MAX_WAITING_CLIENTS',
    default: '1000',
    description:
      'Most long-polls and event streams held open at once; past it, 503 with Retry-After (1–1000000).',
    parse: integerIn(1, 1_000_000),
  }),
  keepAliveTimeoutSeconds: setting({
    name: 'ARTIFACTSTORE_KEEP_ALIVE_TIMEOUT_SECONDS',
    default: '65',
    description:
      'Seconds an idle connection is kept open for the next request (1–3600); keep it above the idle timeout of any gateway in front (60 s for most).',
    parse: integerIn(1, 3600),
  }),
  sseHeartbeatSeconds: setting({
    name: 'ARTIFACTSTORE_SSE_HEARTBEAT_SECONDS',
    default: '15',
    description:
      'Seconds between the comment lines that keep an idle event stream open through proxies (1–60, below the 120 s idle timeout).',
    parse: integerIn(1, 60),
  }),
  abandonedAfterHours: setting({
    name: 'ARTIFACTSTORE_ABANDONED_AFTER_HOURS',
    default: '24',
    description:
      'Hours after its last event that a package still `created` expires as `abandoned` (1–87600).',
    parse: integerIn(1, 87_600),
  }),
  uploadExpiryHours: setting({
    name: 'ARTIFACTSTORE_UPLOAD_EXPIRY_HOURS',
    default: '24',
    description:
      'Hours after its last byte arrived that an unfinished resumable (tus) upload is removed with its staged bytes (1–8760).',
    parse: integerIn(1, 8760),
  }),
  keepLatestPerName: setting({
    name: 'ARTIFACTSTORE_KEEP_LATEST_PER_NAME',
    default: '1',
    description:
      'The newest finalized packages of each name that never expire by retention, whatever their class (0–1000; 0 turns it off).',
    parse: integerIn(0, 1000),
  }),
  gcIntervalSeconds: setting({
    name: 'ARTIFACTSTORE_GC_INTERVAL_SECONDS',
    default: '3600',
    description:
      'Seconds between garbage collection runs (expiry, then collection of unreferenced blobs); 0 = never by itself (0–604800).',
    parse: integerIn(0, 604_800),
  }),
  gcGraceSeconds: setting({
    name: 'ARTIFACTSTORE_GC_GRACE_SECONDS',
    default: '3600',
    description:
      'Seconds a blob must have been unreferenced (or, for bytes no file names, stored) before the collector removes it (0–2592000).',
    parse: integerIn(0, 2_592_000),
  }),
  immutableTags: setting({
    name: 'ARTIFACTSTORE_IMMUTABLE_TAGS',
    default: '',
    shown: '(none)',
    description:
      'Comma-separated glob patterns (`*` any run of characters, `?` one), e.g. `v*,release-*`: a tag that matches cannot be moved or deleted once set.',
    parse: parseTagPatterns,
  }),
  scrubMaxMibs: setting({
    name: 'ARTIFACTSTORE_SCRUB_MAX_MIBS',
    default: '200',
    description: 'MiB per second a scrub reads at most, to leave the disk to users (1–100000).',
    parse: integerIn(1, 100_000),
  }),
  followUrl: setting({
    name: 'ARTIFACTSTORE_FOLLOW_URL',
    default: '',
    shown: '(none: a primary)',
    description:
      'Makes this server a read-only mirror of the artifactstore at this URL: it copies its log event by event, and the blobs they name, and refuses writes.',
    parse: parseFollowUrl,
  }),
  followToken: setting({
    name: 'ARTIFACTSTORE_FOLLOW_TOKEN',
    default: '',
    shown: '(none)',
    description: 'Bearer token (a reader is enough) that a mirror presents to the server it follows.',
    parse: (text) => text,
  }),
  logKeyFile: setting({
    name: 'ARTIFACTSTORE_LOG_KEY_FILE',
    default: '',
    shown: '(`<DATA_DIR>/log-key.pem`, created on first start)',
    description:
      "Ed25519 private key (PKCS#8 PEM) that signs the transparency log's checkpoints. Set it, and the origin, when several servers share one database.",
    parse: (text, { cwd }) => (text === '' ? '' : readLogKeyFile(resolve(cwd, text))),
  }),
  logOrigin: setting({
    name: 'ARTIFACTSTORE_LOG_ORIGIN',
    default: '',
    shown: '(`artifactstore/<id>`, the id kept in `<DATA_DIR>/log-origin`)',
    description:
      "The transparency log's origin line, also the checkpoint key's name, e.g. `artifacts.example.com/log`: printable, no spaces, no `+`.",
    parse: parseLogOrigin,
  }),
};

/** ARTIFACTSTORE_S3_*: read, and required where the table says so, only when the storage is `s3`. */
export const S3_SETTINGS = {
  endpoint: setting({
    name: 'ARTIFACTSTORE_S3_ENDPOINT',
    default: '',
    shown: '(AWS)',
    description: 'S3 endpoint URL, e.g. `http://127.0.0.1:7480` for radosgw or MinIO; unset for AWS itself.',
    parse: parseS3Endpoint,
  }),
  region: setting({
    name: 'ARTIFACTSTORE_S3_REGION',
    default: 'us-east-1',
    description: 'S3 region.',
    parse: (text) => text,
  }),
  bucket: setting({
    name: 'ARTIFACTSTORE_S3_BUCKET',
    default: '',
    shown: '(required for s3)',
    description: 'The bucket holding the blobs.',
    parse: parseBucket,
  }),
  prefix: setting({
    name: 'ARTIFACTSTORE_S3_PREFIX',
    default: '',
    shown: '(none)',
    description: 'Prefix of every object key, e.g. `artifactstore/` to share a bucket.',
    parse: (text) => text,
  }),
  forcePathStyle: setting({
    name: 'ARTIFACTSTORE_S3_FORCE_PATH_STYLE',
    default: 'false',
    description: '`true` for servers without virtual-hosted buckets (radosgw, MinIO on an IP address).',
    parse: parseBoolean,
  }),
  accessKeyId: setting({
    name: 'ARTIFACTSTORE_S3_ACCESS_KEY_ID',
    default: '',
    shown: '(SDK default chain)',
    description: 'Access key; with the secret below. Unset: the AWS SDK default credential chain.',
    parse: optionalText,
  }),
  secretAccessKey: setting({
    name: 'ARTIFACTSTORE_S3_SECRET_ACCESS_KEY',
    default: '',
    shown: '(SDK default chain)',
    description: 'Secret key for the access key above.',
    parse: optionalText,
  }),
  createBucket: setting({
    name: 'ARTIFACTSTORE_S3_CREATE_BUCKET',
    default: 'true',
    description: 'Create the bucket at startup when it is missing.',
    parse: parseBoolean,
  }),
};

/** The value each setting of a table parses to. */
export type ValuesOf<Table> = {
  -readonly [K in keyof Table]: Table[K] extends Setting<infer T> ? T : never;
};

/** Variables with this prefix belong to the test harness, not the server. */
const NOT_CONFIG_PREFIXES = ['ARTIFACTSTORE_TEST_'];

/** Every variable, in reference order: the main table with the S3 group after ARTIFACTSTORE_STORAGE's kin. */
export const CONFIG_VARIABLES: readonly Setting<unknown>[] = [
  ...Object.values(SETTINGS),
  ...Object.values(S3_SETTINGS),
];

/**
 * Reads and validates the configuration. Every problem is collected and reported together, each naming its
 * variable; a variable with the ARTIFACTSTORE_ prefix that the schema does not know is an error too, because a
 * typo (ARTIFACTSTORE_PROT) would otherwise be silently ignored.
 */
export function loadConfig(env: Environment, cwd: string = process.cwd()): AppConfig {
  const problems: string[] = [];
  const context: { cwd: string; dataDir: string } = { cwd, dataDir: resolve(cwd, 'data') };
  const readTable = <Table extends Record<string, Setting<unknown>>>(
    table: Table,
  ): Partial<ValuesOf<Table>> => {
    const values: Record<string, unknown> = {};
    for (const [key, spec] of Object.entries(table)) {
      const raw = env[spec.name];
      const text = raw === undefined || raw.trim() === '' ? spec.default : raw.trim();
      try {
        values[key] = spec.parse(text, context);
      } catch (error) {
        if (!(error instanceof Expected)) throw error;
        problems.push(`${spec.name}: ${error.message}, got ${JSON.stringify(raw)}`);
      }
      if (key === 'dataDir' && typeof values[key] === 'string') context.dataDir = values[key];
    }
    return values as Partial<ValuesOf<Table>>;
  };

  const values = readTable(SETTINGS);
  const s3 = values.storage === 's3' ? s3Settings(readTable(S3_SETTINGS), problems) : undefined;
  const { tokens, allowAnonymous, host } = values;
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

  // A value is missing only where its variable has a problem listed.
  if (problems.length > 0) throw new ConfigError(problems);
  return new AppConfig({ ...(values as ConfigValues), s3 });
}

/** The S3 group as the backend takes it, or undefined with the problems recorded. */
function s3Settings(
  values: Partial<ValuesOf<typeof S3_SETTINGS>>,
  problems: string[],
): S3Settings | undefined {
  const { endpoint, region, bucket, prefix, forcePathStyle, accessKeyId, secretAccessKey, createBucket } =
    values;
  if (bucket === '') problems.push('ARTIFACTSTORE_S3_BUCKET: required when ARTIFACTSTORE_STORAGE=s3');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    problems.push(
      'ARTIFACTSTORE_S3_ACCESS_KEY_ID: set it and ARTIFACTSTORE_S3_SECRET_ACCESS_KEY together, or neither',
    );
  }
  if (
    bucket === undefined ||
    bucket === '' ||
    region === undefined ||
    prefix === undefined ||
    forcePathStyle === undefined ||
    createBucket === undefined
  ) {
    return undefined;
  }
  return {
    ...(endpoint === undefined ? {} : { endpoint }),
    region,
    bucket,
    prefix,
    forcePathStyle,
    ...(accessKeyId === undefined ? {} : { accessKeyId }),
    ...(secretAccessKey === undefined ? {} : { secretAccessKey }),
    createBucket,
  };
}

/** docs/configuration.md: the reference generated from the table (`npm run docs:config` writes it). */
export function configurationReference(): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|');
  const rows = CONFIG_VARIABLES.map(
    (spec) => `| \`${spec.name}\` | ${cell(shownDefault(spec))} | ${cell(spec.description)} |`,
  );
  return [
    '# Configuration',
    '',
    'Generated from `libs/config/src/config.schema.ts` by `npm run docs:config`; a test fails when this file is stale.',
    '',
    'The server reads these environment variables once, at startup, and refuses to start with one line naming every',
    'variable that is wrong (an unknown `ARTIFACTSTORE_*` variable included: a typo must not be ignored). An unset or',
    'empty variable takes its default. The ARTIFACTSTORE_S3_* variables are read only when `ARTIFACTSTORE_STORAGE=s3`.',
    '',
    '| Variable | Default | Meaning |',
    '| --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** A default as the reference shows it: a value in code style, an explanation in parentheses as it is. */
function shownDefault(spec: Setting<unknown>): string {
  const text = spec.shown ?? spec.default;
  return text.startsWith('(') ? text : `\`${text}\``;
}

function parseS3Endpoint(text: string): string | undefined {
  if (text === '') return undefined;
  if (!/^https?:\/\/[^/]+\/?$/.test(text)) fail('expected http(s)://host[:port]');
  return text;
}

/** Glob patterns over tags (`*` any run, `?` one character), checked here and matched by the registry. */
function parseTagPatterns(text: string): readonly string[] {
  const patterns = text
    .split(',')
    .map((pattern) => pattern.trim())
    .filter((pattern) => pattern !== '');
  for (const pattern of patterns) {
    if (!/^[A-Za-z0-9_.*?-]{1,128}$/.test(pattern)) {
      fail(`${JSON.stringify(pattern)} is not a tag pattern (letters, digits, _ . - and the globs * ?)`);
    }
  }
  return patterns;
}

function parseBucket(text: string): string {
  if (text !== '' && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(text)) fail('not an S3 bucket name');
  return text;
}

function optionalText(text: string): string | undefined {
  return text === '' ? undefined : text;
}

/** The tokens file: a JSON array of {name, token_sha256, role}; names are unique, since they become actors. */
/** The key file's path, once it is known to hold an Ed25519 private key. */
function readLogKeyFile(path: string): string {
  let type: string | undefined;
  try {
    type = createPrivateKey(readFileSync(path, 'utf8')).asymmetricKeyType;
  } catch (error) {
    fail(
      `cannot read ${path} as a PEM private key (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (type !== 'ed25519') fail(`${path} holds a ${type ?? 'non-asymmetric'} key, not an Ed25519 one`);
  return path;
}

/** The source of a mirror: an http(s) URL without query or fragment, kept without its trailing slash. */
function parseFollowUrl(text: string): string {
  if (text === '') return '';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    fail('expected an http or https URL');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    fail('expected an http or https URL without query or fragment');
  }
  return url.toString().replace(/\/+$/, '');
}

/** A C2SP signed-note key name: non-empty, no whitespace, no '+'. */
function parseLogOrigin(text: string): string {
  if (text !== '' && !/^[^\s+\p{Cc}\p{Z}]{1,256}$/u.test(text)) {
    fail('expected 1 to 256 printable characters without spaces or "+"');
  }
  return text;
}

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
    const known = ROLES.find((candidate) => candidate === role);
    if (known === undefined) fail(`${where}.role must be one of ${ROLES.join(', ')}`);
    return { name, tokenSha256: tokenSha256.toLowerCase(), role: known };
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

function parseDatabaseUrl(text: string, { cwd, dataDir }: ParseContext): DatabaseTarget {
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
