import { startApi, type ApiHarness } from '../support/api-harness.js';
import { createScratchSqlite } from '../support/scratch-database.js';
import type { TestDatabase } from '../support/test-databases.js';

interface Operation {
  parameters?: { name: string; in: string; schema?: { type?: string } }[];
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
}

describe('OpenAPI document and Swagger UI', () => {
  let testDatabase: TestDatabase;
  let api: ApiHarness;
  let paths: Record<string, Record<string, Operation>>;
  let schemas: Record<string, unknown>;

  beforeAll(async () => {
    testDatabase = await createScratchSqlite();
    api = await startApi(testDatabase);
    const document = (await api.http().get('/docs-json').expect(200)).body as {
      openapi: string;
      paths: typeof paths;
      components: { schemas: typeof schemas };
    };
    expect(document.openapi).toMatch(/^3\./);
    paths = document.paths;
    schemas = document.components.schemas;
  });

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
  });

  it('documents every endpoint of the API', () => {
    const operations = Object.entries(paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        'GET /healthz',
        'GET /readyz',
        'POST /v1/packages',
        'GET /v1/packages',
        'GET /v1/packages/{id}',
        'POST /v1/packages/{id}/finalize',
        'GET /v1/packages/{id}/manifest',
        'GET /v1/packages/{id}/files',
        'PUT /v1/packages/{id}/files/{path}',
        'GET /v1/packages/{id}/files/{path}',
        'GET /v1/files/{id}',
        'GET /v1/manifests/{address}',
        'GET /v1/events',
        'GET /v1/events/stream',
        'POST /v1/packages/{id}/files',
        'DELETE /v1/packages/{id}',
        'PATCH /v1/packages/{id}',
        'PUT /v1/packages/{id}/hold',
        'DELETE /v1/packages/{id}/hold',
        'POST /v1/admin/replay',
        'POST /v1/admin/verify',
        'GET /v1/admin/jobs',
        'GET /v1/admin/jobs/{id}',
        'POST /v1/admin/gc',
        'GET /v1/admin/scrub',
        'POST /v1/admin/scrub',
        'PUT /v1/tags/{name}/{tag}',
        'GET /v1/tags/{name}/{tag}',
        'DELETE /v1/tags/{name}/{tag}',
        'GET /v1/tags/{name}',
        'GET /v1/tags/{name}/{tag}/history',
        'GET /v1/tags/{name}/{tag}/files/{path}',
        'OPTIONS /v1/packages/{id}/uploads',
        'POST /v1/packages/{id}/uploads',
        'OPTIONS /v1/packages/{id}/uploads/{uploadId}',
        'HEAD /v1/packages/{id}/uploads/{uploadId}',
        'PATCH /v1/packages/{id}/uploads/{uploadId}',
        'DELETE /v1/packages/{id}/uploads/{uploadId}',
        'GET /v1/log/checkpoint',
        'GET /v1/log/key',
        'GET /v1/log/consistency',
        'GET /v1/log/tile/{tile}',
        'GET /v1/packages/{id}/receipt',
      ].sort(),
    );
  });

  it('documents the errors of every authenticated operation as problem+json', () => {
    for (const [path, methods] of Object.entries(paths)) {
      if (path === '/healthz' || path === '/readyz') continue;
      for (const [method, operation] of Object.entries(methods)) {
        for (const status of ['401', '403']) {
          const problem = operation.responses[status]?.content?.['application/problem+json']?.schema?.$ref;
          expect(`${method} ${path} ${status} ${problem}`).toBe(
            `${method} ${path} ${status} #/components/schemas/ProblemDto`,
          );
        }
      }
    }
    expect(Object.keys(schemas)).toEqual(
      expect.arrayContaining(['ProblemDto', 'PackageDto', 'FileDto', 'CreatePackageDto', 'EventsPageDto']),
    );
    expect(Object.keys(paths['/v1/packages/{id}/files/{path}']?.put?.responses ?? {})).toEqual(
      expect.arrayContaining(['201', '400', '404', '409', '413', '422']),
    );
    expect(Object.keys(paths['/v1/packages/{id}']?.delete?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '403', '404', '409']),
    );
    expect(Object.keys(paths['/v1/packages/{id}']?.patch?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '404', '409', '422']),
    );
    expect(Object.keys(paths['/v1/admin/gc']?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '409']),
    );
  });

  it('declares the relative path a string, not an array of segments', () => {
    const parameter = paths['/v1/packages/{id}/files/{path}']?.put?.parameters?.find(
      (p) => p.name === 'path',
    );
    expect(parameter).toMatchObject({ in: 'path', schema: { type: 'string' } });
  });

  it('serves Swagger UI and its assets with charset=utf-8', async () => {
    const page = await api.http().get('/docs').expect(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.text).toContain('swagger-ui');
    const css = await api.http().get('/docs/swagger-ui.css').expect(200);
    expect(css.headers['content-type']).toMatch(/charset=utf-8/);
  });
});
