import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { createServerApp } from '@artifactstore/server';
import type { TestDatabase } from './test-databases.js';

/** The real HTTP server on a test database, listening on a free loopback port. */
export interface ApiHarness {
  readonly app: NestExpressApplication;
  readonly server: Server;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** supertest bound to the server. */
  http(): ReturnType<typeof request>;
  close(): Promise<void>;
}

export async function startApi(testDatabase: TestDatabase): Promise<ApiHarness> {
  const app = await createServerApp(testDatabase.config);
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer();
  const { port } = server.address() as AddressInfo;
  return {
    app,
    server,
    url: `http://127.0.0.1:${port}`,
    http: () => request(server),
    close: () => app.close(),
  };
}
