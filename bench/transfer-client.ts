import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import * as tus from 'tus-js-client';

/**
 * The client side of the tus benchmark, in a process of its own so that it does not share the server's event loop:
 * `node dist/bench/transfer-client.js put|tus|tus-js-client <package url> <file> <relative path> [chunk MiB]`
 * uploads the file with one streamed PUT, with the tus protocol in chunks (POST, then one streamed PATCH per chunk,
 * on the same keep-alive connection: the same client code as the PUT), or with tus-js-client, and prints the
 * milliseconds it took as JSON.
 */
async function main(): Promise<void> {
  const [mode, packageUrl, file, relativePath, chunkMiB = '8'] = process.argv.slice(2);
  if (
    (mode !== 'put' && mode !== 'tus' && mode !== 'tus-js-client') ||
    !packageUrl ||
    !file ||
    !relativePath
  ) {
    throw new Error(
      'usage: transfer-client put|tus|tus-js-client <package url> <file> <relative path> [chunk MiB]',
    );
  }
  const size = (await stat(file)).size;
  const chunkSize = Number(chunkMiB) * (1 << 20);
  const start = performance.now();
  if (mode === 'put') await put(`${packageUrl}/files/${relativePath}`, file, size);
  else if (mode === 'tus') await tusByHand(`${packageUrl}/uploads`, file, size, relativePath, chunkSize);
  else await tusUpload(`${packageUrl}/uploads`, file, size, relativePath, chunkSize);
  process.stdout.write(`${JSON.stringify({ ms: performance.now() - start })}\n`);
}

const agent = new Agent({ keepAlive: true });

/** One request whose body is the bytes `start` to `end` (exclusive) of `file`; resolves with the answer. */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  file?: { path: string; start: number; end: number },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const length = file ? file.end - file.start : 0;
    const outgoing = request(url, {
      method,
      agent,
      headers: { ...headers, 'Content-Length': String(length) },
    });
    outgoing.on('response', (response) => {
      response.resume();
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, headers: response.headers });
      });
    });
    outgoing.on('error', reject);
    if (!file || length === 0) {
      outgoing.end();
      return;
    }
    const body = createReadStream(file.path, {
      start: file.start,
      end: file.end - 1,
      highWaterMark: 1 << 20,
    });
    pipeline(body, outgoing).catch(reject);
  });
}

async function put(url: string, file: string, size: number): Promise<void> {
  const answer = await send(
    url,
    'PUT',
    { 'Content-Type': 'application/octet-stream' },
    { path: file, start: 0, end: size },
  );
  if (answer.status !== 201) throw new Error(`PUT answered ${answer.status}`);
}

async function tusByHand(
  endpoint: string,
  file: string,
  size: number,
  relativePath: string,
  chunkSize: number,
) {
  const created = await send(endpoint, 'POST', {
    'Tus-Resumable': '1.0.0',
    'Upload-Length': String(size),
    'Upload-Metadata': `relative_path ${Buffer.from(relativePath).toString('base64')}`,
  });
  if (created.status !== 201) throw new Error(`POST answered ${created.status}`);
  const location = new URL(String(created.headers.location), endpoint).toString();
  for (let offset = 0; offset < size; offset += chunkSize) {
    const end = Math.min(offset + chunkSize, size);
    const patched = await send(
      location,
      'PATCH',
      {
        'Tus-Resumable': '1.0.0',
        'Upload-Offset': String(offset),
        'Content-Type': 'application/offset+octet-stream',
      },
      { path: file, start: offset, end },
    );
    if (patched.status !== 204) throw new Error(`PATCH answered ${patched.status}`);
  }
}

function tusUpload(endpoint: string, file: string, size: number, relativePath: string, chunkSize: number) {
  return new Promise<void>((resolve, reject) => {
    const upload = new tus.Upload(createReadStream(file, { highWaterMark: 1 << 20 }), {
      endpoint,
      uploadSize: size,
      chunkSize,
      metadata: { relative_path: relativePath },
      retryDelays: [],
      storeFingerprintForResuming: false,
      onSuccess: () => {
        resolve();
      },
      onError: reject,
    });
    upload.start();
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`transfer-client: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
