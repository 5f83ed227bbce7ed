import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '@artifactstore/config';

/**
 * docker/ cannot be run here (no Docker engine), so what can be checked is checked: the compose file parses, sets
 * only variables the configuration schema knows, and its artifactstore environment is a configuration the server
 * accepts; the Dockerfile keeps its non-root user, health check and data volume.
 */
describe('docker packaging', () => {
  interface Service {
    environment?: Record<string, string>;
    volumes?: string[];
  }
  const compose = parse(readFileSync('docker/compose.yaml', 'utf8')) as { services: Record<string, Service> };
  const dockerfile = readFileSync('docker/Dockerfile', 'utf8');
  const known = new Set(CONFIG_VARIABLES.map((variable) => variable.name));

  it('names only ARTIFACTSTORE_* variables the configuration schema knows', () => {
    const named = new Set<string>();
    for (const text of [readFileSync('docker/compose.yaml', 'utf8'), dockerfile]) {
      for (const match of text.matchAll(/ARTIFACTSTORE_[A-Z0-9_]+/g)) named.add(match[0]);
    }
    expect(named.size).toBeGreaterThan(5);
    expect([...named].filter((name) => !known.has(name))).toEqual([]);
  });

  it('gives the server a configuration it accepts: PostgreSQL, S3 and the tokens file it mounts', () => {
    const service = compose.services.artifactstore;
    const environment = service?.environment ?? {};
    const mount = (service?.volumes ?? []).find((volume) =>
      volume.includes(environment.ARTIFACTSTORE_TOKENS_FILE ?? '?'),
    );
    expect(mount).toBeDefined();
    const config = loadConfig({
      ...environment,
      ARTIFACTSTORE_TOKENS_FILE: `docker/${(mount ?? '').split(':')[0]?.replace(/^\.\//, '') ?? ''}`,
      ARTIFACTSTORE_DATA_DIR: '/tmp/artifactstore-compose-check',
    });
    expect(config.database.dialect).toBe('postgres');
    expect(config.storage).toBe('s3');
    expect(config.host).toBe('0.0.0.0');
    expect(config.tokens.map((token) => token.role).sort()).toEqual(['admin', 'producer', 'reader']);
    // The demo tokens docker/README.md gives are the ones whose digests the file holds.
    for (const demo of ['demo-admin-token', 'demo-producer-token', 'demo-reader-token']) {
      const digest = createHash('sha256').update(demo).digest('hex');
      expect(config.tokens.map((token) => token.tokenSha256)).toContain(digest);
    }
    expect(Object.keys(compose.services).sort()).toEqual(['artifactstore', 'postgres', 's3']);
  });

  it('builds in two stages and runs as a non-root user with a health check and a data volume', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
    expect(dockerfile).toMatch(/^VOLUME \["\/data"\]$/m);
    expect(dockerfile).toMatch(
      /^ENTRYPOINT \["node", "--initial-old-space-size=256", "dist\/apps\/cli\/src\/main\.js"\]$/m,
    );
  });

  it('builds no native code of ours: npm ci runs no install script of this package', () => {
    const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    expect(manifest.scripts.install).toBeUndefined();
    expect(dockerfile).not.toMatch(/NATIVE_ADDON_REQUIRED|libs\/dataplane\/native|huge_pages/);
  });
});
