import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { ConfigError, configurationReference, loadConfig } from './index.js';

describe('loadConfig', () => {
  it('defaults to the embedded database in ./data', () => {
    const config = loadConfig({}, '/srv/app');
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      dataDir: '/srv/app/data',
      database: { dialect: 'sqlite', path: '/srv/app/data/artifactstore.db' },
      logLevel: 'info',
      migrateOnStart: true,
      sqliteSynchronous: 'full',
    });
  });

  it('writes blobs with direct I/O unless ARTIFACTSTORE_FS_DIRECT_IO says otherwise', () => {
    expect(loadConfig({}).fsDirectIo).toBe(true);
    expect(loadConfig({ ARTIFACTSTORE_FS_DIRECT_IO: 'false' }).fsDirectIo).toBe(false);
    expect(() => loadConfig({ ARTIFACTSTORE_FS_DIRECT_IO: 'sometimes' })).toThrow(
      /ARTIFACTSTORE_FS_DIRECT_IO/,
    );
  });

  it('takes portable paths only unless ARTIFACTSTORE_PATH_POLICY=posix', () => {
    expect(loadConfig({}).pathPolicy).toBe('portable');
    expect(loadConfig({ ARTIFACTSTORE_PATH_POLICY: 'POSIX' }).pathPolicy).toBe('posix');
    expect(loadConfig({ ARTIFACTSTORE_PATH_POLICY: 'portable' }).pathPolicy).toBe('portable');
    expect(() => loadConfig({ ARTIFACTSTORE_PATH_POLICY: 'windows' })).toThrow(
      /ARTIFACTSTORE_PATH_POLICY: expected one of portable, posix, got "windows"/,
    );
  });

  it('places the default database inside a custom data folder', () => {
    const config = loadConfig({ ARTIFACTSTORE_DATA_DIR: '/var/lib/as' }, '/srv');
    expect(config.database).toEqual({ dialect: 'sqlite', path: '/var/lib/as/artifactstore.db' });
  });

  it('accepts PostgreSQL URLs and sqlite paths', () => {
    expect(
      loadConfig({ ARTIFACTSTORE_DATABASE_URL: 'postgres://root@127.0.0.1:5432/test' }).database,
    ).toEqual({
      dialect: 'postgres',
      url: 'postgres://root@127.0.0.1:5432/test',
    });
    expect(loadConfig({ ARTIFACTSTORE_DATABASE_URL: 'sqlite:db/x.db' }, '/w').database).toEqual({
      dialect: 'sqlite',
      path: '/w/db/x.db',
    });
  });

  it('reads booleans and levels case-insensitively', () => {
    const config = loadConfig({ ARTIFACTSTORE_MIGRATE_ON_START: 'False', ARTIFACTSTORE_LOG_LEVEL: 'DEBUG' });
    expect(config.migrateOnStart).toBe(false);
    expect(config.logLevel).toBe('debug');
  });

  it.each([
    ['ARTIFACTSTORE_PORT', 'eighty'],
    ['ARTIFACTSTORE_PORT', '70000'],
    ['ARTIFACTSTORE_DATABASE_URL', 'mysql://x/y'],
    ['ARTIFACTSTORE_DATABASE_URL', 'postgres://'],
    ['ARTIFACTSTORE_LOG_LEVEL', 'loud'],
    ['ARTIFACTSTORE_MIGRATE_ON_START', 'maybe'],
    ['ARTIFACTSTORE_HOST', 'not a host'],
    ['ARTIFACTSTORE_PROT', '8080'],
  ])('rejects %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^invalid configuration:\\n  ${name}: `));
  });

  it('reports every bad variable at once', () => {
    try {
      loadConfig({ ARTIFACTSTORE_PORT: 'x', ARTIFACTSTORE_LOG_LEVEL: 'y' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(2);
    }
  });

  it('ignores the test harness variables', () => {
    expect(() => loadConfig({ ARTIFACTSTORE_TEST_PG_URL: 'postgres://x/y' })).not.toThrow();
  });

  describe('tokens, anonymous mode and the file size limit', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'artifactstore-config-'));
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const tokensFile = (content: unknown): string => {
      const path = join(dir, `tokens-${Math.random().toString(16).slice(2)}.json`);
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
      return path;
    };
    const hash = 'AB'.repeat(32);

    it('runs in local mode without a tokens file, and defaults the limit to 10 GiB', () => {
      const config = loadConfig({});
      expect(config.tokens).toEqual([]);
      expect(config.allowAnonymous).toBe(false);
      expect(config.maxFileSize).toBe(10 * 2 ** 30);
    });

    it('reads a tokens file, lowercasing the hashes', () => {
      const path = tokensFile([
        { name: 'ci', token_sha256: hash, role: 'producer' },
        { name: 'ops', token_sha256: 'cd'.repeat(32), role: 'admin' },
      ]);
      expect(loadConfig({ ARTIFACTSTORE_TOKENS_FILE: path }).tokens).toEqual([
        { name: 'ci', tokenSha256: 'ab'.repeat(32), role: 'producer' },
        { name: 'ops', tokenSha256: 'cd'.repeat(32), role: 'admin' },
      ]);
    });

    it.each([
      ['not json', /cannot read .* as JSON/],
      [[], /non-empty JSON array/],
      [[{ name: '', token_sha256: 'ab'.repeat(32), role: 'reader' }], /name must be 1 to 256/],
      [[{ name: 'x', token_sha256: 'abc', role: 'reader' }], /token_sha256 must be 64 hex digits/],
      [
        [{ name: 'x', token_sha256: 'ab'.repeat(32), role: 'root' }],
        /role must be one of reader, producer, admin/,
      ],
      [
        [
          { name: 'x', token_sha256: 'ab'.repeat(32), role: 'reader' },
          { name: 'x', token_sha256: 'cd'.repeat(32), role: 'admin' },
        ],
        /appears twice/,
      ],
    ])('refuses the tokens file %j', (content, message) => {
      expect(() => loadConfig({ ARTIFACTSTORE_TOKENS_FILE: tokensFile(content) })).toThrow(message);
    });

    it('refuses a tokens file that does not exist', () => {
      expect(() => loadConfig({ ARTIFACTSTORE_TOKENS_FILE: join(dir, 'missing.json') })).toThrow(
        /ARTIFACTSTORE_TOKENS_FILE: cannot read/,
      );
    });

    it('refuses local mode on a non-loopback address unless anonymous access is allowed', () => {
      expect(() => loadConfig({ ARTIFACTSTORE_HOST: '0.0.0.0' })).toThrow(/not a loopback address/);
      expect(loadConfig({ ARTIFACTSTORE_HOST: '0.0.0.0', ARTIFACTSTORE_ALLOW_ANONYMOUS: 'true' }).host).toBe(
        '0.0.0.0',
      );
      const path = tokensFile([{ name: 'ci', token_sha256: hash, role: 'reader' }]);
      expect(loadConfig({ ARTIFACTSTORE_HOST: '0.0.0.0', ARTIFACTSTORE_TOKENS_FILE: path }).host).toBe(
        '0.0.0.0',
      );
      for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) {
        expect(loadConfig({ ARTIFACTSTORE_HOST: host }).host).toBe(host);
      }
    });

    it.each([
      ['1048576', 1048576],
      ['500MiB', 500 * 2 ** 20],
      ['2 GiB', 2 * 2 ** 30],
      ['1TiB', 2 ** 40],
      ['64KiB', 65536],
    ])('reads the size %s', (text, bytes) => {
      expect(loadConfig({ ARTIFACTSTORE_MAX_FILE_SIZE: text }).maxFileSize).toBe(bytes);
    });

    it.each(['0', '-1', '1.5GiB', '10GB', 'lots'])('refuses the size %s', (text) => {
      expect(() => loadConfig({ ARTIFACTSTORE_MAX_FILE_SIZE: text })).toThrow(
        /ARTIFACTSTORE_MAX_FILE_SIZE: expected a size/,
      );
    });
  });

  describe('operations', () => {
    it('defaults to no trusted proxies, a 30 s shutdown grace and 1000 waiting clients', () => {
      const config = loadConfig({});
      expect(config.trustedProxies).toEqual([]);
      expect(config.shutdownGraceMs).toBe(30_000);
      expect(config.maxWaitingClients).toBe(1000);
    });

    it('reads trusted proxies as IPv4 and IPv6 CIDRs, a bare address being one host', () => {
      expect(
        loadConfig({ ARTIFACTSTORE_TRUSTED_PROXIES: '10.0.0.0/8, fd00::/8,192.0.2.7, ::1' }).trustedProxies,
      ).toEqual([
        { address: '10.0.0.0', prefixLength: 8, family: 'ipv4' },
        { address: 'fd00::', prefixLength: 8, family: 'ipv6' },
        { address: '192.0.2.7', prefixLength: 32, family: 'ipv4' },
        { address: '::1', prefixLength: 128, family: 'ipv6' },
      ]);
    });

    it.each([
      '10.0.0.0/33',
      'fd00::/129',
      'gateway',
      '10.0.0.0/8/1',
      '10.0.0.0/',
      '10.0.0.0/8,',
      '300.1.1.1',
    ])('refuses the trusted proxies %s', (text) => {
      expect(() => loadConfig({ ARTIFACTSTORE_TRUSTED_PROXIES: text })).toThrow(
        /ARTIFACTSTORE_TRUSTED_PROXIES: /,
      );
    });

    it('keeps an idle connection 65 s unless ARTIFACTSTORE_KEEP_ALIVE_TIMEOUT_SECONDS says otherwise', () => {
      expect(loadConfig({}).keepAliveTimeoutSeconds).toBe(65);
      expect(loadConfig({ ARTIFACTSTORE_KEEP_ALIVE_TIMEOUT_SECONDS: '620' }).keepAliveTimeoutSeconds).toBe(
        620,
      );
    });

    it.each([
      ['ARTIFACTSTORE_SHUTDOWN_GRACE_MS', '-1'],
      ['ARTIFACTSTORE_SHUTDOWN_GRACE_MS', '3600001'],
      ['ARTIFACTSTORE_MAX_WAITING_CLIENTS', '0'],
      ['ARTIFACTSTORE_KEEP_ALIVE_TIMEOUT_SECONDS', '0'],
      ['ARTIFACTSTORE_KEEP_ALIVE_TIMEOUT_SECONDS', '3601'],
      ['ARTIFACTSTORE_KEEP_ALIVE_TIMEOUT_SECONDS', '65s'],
    ])('refuses %s=%s', (name, value) => {
      expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`${name}: expected an integer`));
    });
  });
});

describe('docs/configuration.md', () => {
  it('is what the configuration table generates (npm run docs:config)', async () => {
    const path = 'docs/configuration.md';
    const generated = await format(configurationReference(), {
      ...(await resolveConfig(path)),
      parser: 'markdown',
    });
    expect(readFileSync(path, 'utf8')).toBe(generated);
  });
});
