import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';
import type { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import { CONFIG_VARIABLES } from '@artifactstore/config';
import { createServerApp } from '@artifactstore/server';
import { createScratchSqlite } from '../support/scratch-database.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

const SERVER = 'dist/apps/server/src/main.js';

describe.each(dialectsUnderTest())('server on $dialect', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let app: INestApplication;

  beforeAll(async () => {
    testDatabase = await dialectUnderTest.create();
    app = await createServerApp(testDatabase.config);
    await app.init();
  });

  afterAll(async () => {
    await app.close();
    await testDatabase.dispose();
  });

  it('answers /healthz, and /readyz from a migrated database', async () => {
    const server = app.getHttpServer() as Server;
    expect((await request(server).get('/healthz').expect(200)).body).toEqual({ status: 'ok' });
    expect((await request(server).get('/readyz').expect(200)).body).toEqual({
      status: 'ready',
      head_sequence: 0,
    });
  });

  it('answers /readyz with 503 while the blob storage takes no writes', async () => {
    const server = app.getHttpServer() as Server;
    const tmp = join(testDatabase.config.dataDir, 'blobs', 'tmp');
    await rm(tmp, { recursive: true });
    await writeFile(tmp, 'not a folder');
    try {
      const response = await request(server).get('/readyz').expect(503);
      expect(response.body).toMatchObject({ code: 'service_unavailable' });
      await request(server).get('/healthz').expect(200);
    } finally {
      await rm(tmp);
      await mkdir(tmp);
    }
    await request(server).get('/readyz').expect(200);
  });
});

describe('the built server process', () => {
  it('starts on the embedded default, migrates, serves and stops on SIGTERM', async () => {
    // The embedded default: a SQLite database in the data folder, as `npm start` makes it.
    const testDatabase = await createScratchSqlite();
    try {
      const child = spawn(process.execPath, [SERVER], {
        env: {
          PATH: process.env.PATH,
          ARTIFACTSTORE_DATA_DIR: testDatabase.config.dataDir,
          ARTIFACTSTORE_PORT: '0',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        const onData = (chunk: Buffer): void => {
          output += chunk.toString();
          const match = /listening on (http:\/\/[^\s]+)/.exec(output);
          if (match?.[1]) resolve(match[1]);
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', (code) => {
          reject(new Error(`server exited with ${code}: ${output}`));
        });
      });
      expect(output).toContain('applied migration InitialSchema1764201600000');
      expect(existsSync(join(testDatabase.config.dataDir, 'blobs', 'tmp'))).toBe(true);
      const response = await fetch(`${url.replace('[::1]', '127.0.0.1')}/readyz`);
      expect(await response.json()).toEqual({ status: 'ready', head_sequence: 0 });
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      await testDatabase.dispose();
    }
  });

  it('refuses a bad configuration with one line naming every bad variable, and exit 1 (as `artifactstore serve`)', async () => {
    const child = spawn(process.execPath, [SERVER], {
      env: { PATH: process.env.PATH, ARTIFACTSTORE_PORT: 'eighty', ARTIFACTSTORE_LOG_LEVEL: 'loud' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(
      /^artifactstore: invalid_config: ARTIFACTSTORE_PORT: expected an integer from 0 to 65535, got "eighty"; ARTIFACTSTORE_LOG_LEVEL: expected one of /,
    );
  });
});

describe('docs/configuration.md', () => {
  it('documents every configuration variable, and the README points to it', async () => {
    const reference = await readFile('docs/configuration.md', 'utf8');
    for (const variable of CONFIG_VARIABLES) expect(reference).toContain(`\`${variable.name}\``);
    expect(await readFile('README.md', 'utf8')).toContain('(docs/configuration.md)');
  });
});
