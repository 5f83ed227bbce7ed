import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FileRecord } from '@artifactstore/registry';
import type { Upload } from './artifact-client.js';
import { CliError, exitStatusOf } from './cli.errors.js';

/** A file to upload resumably: an Upload that can also stream its bytes from an offset on. */
export interface ResumableSource extends Upload {
  /** A new stream of the bytes from `offset` to the end. */
  openFrom(offset: number): Readable;
}

export interface ResumableUploadOptions {
  /** The server's base URL. */
  readonly url: string;
  readonly token?: string;
  readonly agent?: http.Agent;
  /** Bytes per PATCH (default 64 MiB): what a broken connection can cost, at most. */
  readonly chunkSize?: number;
  /** Times a broken PATCH is resumed in a row before giving up (default 10), with growing pauses. */
  readonly retries?: number;
  /** Pause before the first retry, doubled each time up to 10 s (default 250 ms). */
  readonly retryDelayMs?: number;
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

const MiB = 1 << 20;

/**
 * Uploads `source` into the package by tus (ADR 0014): creates the upload, then PATCHes it chunk by chunk. When a
 * connection breaks (or the server answers 409, 423 or 5xx), asks the server for its offset (HEAD) and continues from
 * there instead of starting again. The server checks the declared digests at the last byte and attaches the file
 * exactly as a PUT would; the file's record is then fetched from the URL the last PATCH names.
 */
export async function uploadResumably(
  packageId: string,
  source: ResumableSource,
  options: ResumableUploadOptions,
): Promise<FileRecord> {
  const chunkSize = options.chunkSize ?? 64 * MiB;
  const retries = options.retries ?? 10;
  const tus = (headers: Record<string, string> = {}): Record<string, string> => ({
    'Tus-Resumable': '1.0.0',
    ...(options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` }),
    ...headers,
  });
  const created = await request(options, 'POST', `/v1/packages/${encodeURIComponent(packageId)}/uploads`, {
    headers: tus({
      'Upload-Length': String(source.size),
      'Upload-Metadata': [
        `relative_path ${base64(source.relativePath)}`,
        `media_type ${base64(source.mediaType)}`,
        `sha256 ${base64(source.sha256)}`,
        `blake3 ${base64(source.blake3)}`,
      ].join(','),
    }),
  });
  if (created.status !== 201) throw problemError(created, 'POST uploads');
  const location = String(created.headers.location);
  let offset = 0;
  let fileLocation = created.headers['x-artifactstore-file'];
  let failures = 0;
  while (fileLocation === undefined) {
    let answer: Answer;
    try {
      if (offset === source.size) {
        answer = await request(options, 'HEAD', location, { headers: tus() });
      } else {
        const end = Math.min(offset + chunkSize, source.size);
        const from = offset;
        answer = await request(options, 'PATCH', location, {
          headers: tus({
            'Upload-Offset': String(from),
            'Content-Type': 'application/offset+octet-stream',
            'Content-Length': String(end - from),
          }),
          body: () => limited(source.openFrom(from), end - from),
        });
      }
    } catch (error) {
      // The connection broke: what arrived is staged; ask the server where to continue.
      failures = await pause(failures, retries, options, error);
      offset = await serverOffset(options, location, tus());
      continue;
    }
    if (answer.status === 204 || answer.status === 200) {
      failures = 0;
      offset = Number(answer.headers['upload-offset']);
      fileLocation = answer.headers['x-artifactstore-file'];
      continue;
    }
    if (answer.status === 409 || answer.status === 423 || answer.status >= 500) {
      failures = await pause(failures, retries, options, problemError(answer, 'PATCH'));
      offset = await serverOffset(options, location, tus());
      continue;
    }
    throw problemError(answer, 'PATCH');
  }
  return attachedFile(options, packageId, String(fileLocation).split('/').at(-1) ?? '', tus());
}

/** The record of the file the upload attached, found in the package's file list by its id. */
async function attachedFile(
  options: ResumableUploadOptions,
  packageId: string,
  fileId: string,
  headers: Record<string, string>,
): Promise<FileRecord> {
  let cursor: string | null | undefined;
  do {
    const query = new URLSearchParams({ limit: '1000', ...(cursor ? { cursor } : {}) });
    const answer = await request(
      options,
      'GET',
      `/v1/packages/${encodeURIComponent(packageId)}/files?${query.toString()}`,
      { headers },
    );
    if (answer.status !== 200) throw problemError(answer, 'GET the package files');
    const page = JSON.parse(answer.body.toString('utf8')) as {
      items: FileRecord[];
      next_cursor: string | null;
    };
    const file = page.items.find((candidate) => candidate.id === fileId);
    if (file) return file;
    cursor = page.next_cursor;
  } while (cursor);
  throw new CliError('file_not_found', `the uploaded file ${fileId} is not in package ${packageId}`);
}

async function serverOffset(
  options: ResumableUploadOptions,
  location: string,
  headers: Record<string, string>,
) {
  const answer = await request(options, 'HEAD', location, { headers });
  if (answer.status !== 200) throw problemError(answer, 'HEAD the upload');
  return Number(answer.headers['upload-offset']);
}

/** Waits before the next try, or throws the error when `retries` tries in a row failed. */
async function pause(failures: number, retries: number, options: ResumableUploadOptions, error: unknown) {
  if (failures >= retries) throw error;
  await sleep(Math.min((options.retryDelayMs ?? 250) * 2 ** failures, 10_000));
  return failures + 1;
}

/** The first `count` bytes of `stream` (a file read from an offset goes on to its end). */
async function* limited(stream: Readable, count: number): AsyncGenerator<Buffer> {
  let left = count;
  try {
    for await (const chunk of stream) {
      const bytes = chunk as Buffer;
      if (bytes.length >= left) {
        yield bytes.subarray(0, left);
        return;
      }
      left -= bytes.length;
      yield bytes;
    }
  } finally {
    stream.destroy();
  }
}

function request(
  options: ResumableUploadOptions,
  method: string,
  path: string,
  init: { headers: Record<string, string>; body?: () => AsyncIterable<Buffer> },
): Promise<Answer> {
  const url = new URL(path, options.url);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<Answer>((resolve, reject) => {
    const outgoing = transport.request(url, { method, headers: init.headers, agent: options.agent });
    outgoing.on('error', reject);
    outgoing.on('response', (response) => {
      const parts: Buffer[] = [];
      response.on('data', (chunk: Buffer) => parts.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(parts) });
      });
    });
    if (init.body) {
      pipeline(init.body(), outgoing).catch((error: unknown) => {
        outgoing.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    } else {
      outgoing.end();
    }
  });
}

function problemError(answer: Answer, what: string): CliError {
  let code = 'http_error';
  let detail = `${what} answered ${answer.status}`;
  try {
    const problem = JSON.parse(answer.body.toString('utf8')) as { code?: string; detail?: string };
    code = problem.code ?? code;
    detail = problem.detail ?? detail;
  } catch {
    // Not problem+json (a HEAD has no body): the status says it.
  }
  return new CliError(code, detail, exitStatusOf(code, answer.status));
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
