import { request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Response } from 'superagent';
import type { ApiHarness } from './api-harness.js';

/** A supertest parser that keeps the body as bytes, whatever the Content-Type. */
export function binary(response: Response, callback: (error: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  response.on('data', (chunk: Buffer) => chunks.push(chunk));
  response.on('end', () => {
    callback(null, Buffer.concat(chunks));
  });
}

export interface PackageBody {
  id: string;
  status: string;
  file_count: number;
  total_size: number;
  content_address: string | null;
  [field: string]: unknown;
}

export async function createPackage(
  api: ApiHarness,
  fields: Record<string, unknown> = {},
  token?: string,
): Promise<PackageBody> {
  const call = api.http().post('/v1/packages');
  if (token) void call.set('Authorization', `Bearer ${token}`);
  const response = await call
    .send({
      name: 'app',
      producer: 'ci',
      subject: `git:${randomBytes(4).toString('hex')}`,
      retention_class: 'standard',
      ...fields,
    })
    .expect(201);
  return response.body as PackageBody;
}

/** The problem+json assertions every error shares. */
export function expectProblem(response: Response, status: number, code: string): void {
  expect({ status: response.status, code: (response.body as { code?: string }).code }).toEqual({
    status,
    code,
  });
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({
    type: `urn:artifactstore:problem:${code}`,
    title: expect.any(String) as string,
    status,
    detail: expect.any(String) as string,
    code,
    request_id: response.headers['x-request-id'] as string,
  });
}

/** A request through node:http with exactly these bytes (supertest would re-serialize a Buffer sent as JSON). */
export function rawRequest(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
