import { ConfigError, loadConfig } from './index.js';

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
});
