import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { promisify } from 'node:util';
import { access, open, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createServerApp } from '@artifactstore/server';
import { bytes } from './dataplane.bench.js';
import type { DistributionRegistry } from './distribution-registry.js';
import { curl } from './http.bench.js';
import type { ScratchDatabase } from '../test/support/scratch-database.js';
import { percentile } from './stats.js';

const MiB = 1 << 20;

/** The artifactstore server of the race: in this process, on its scratch SQLite database. */
export interface ArtifactstoreServer {
  readonly base: string;
  /** This process's user + system CPU seconds so far (the server and, in the small-upload race, the client). */
  cpuSeconds(): number;
  close(): Promise<void>;
}

export async function startArtifactstore(scratch: ScratchDatabase): Promise<ArtifactstoreServer> {
  const app: NestExpressApplication = await createServerApp(scratch.config);
  await app.listen(0, '127.0.0.1');
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    base,
    cpuSeconds: () => {
      const usage = process.cpuUsage();
      return (usage.user + usage.system) / 1e6;
    },
    close: () => app.close(),
  };
}

/** One 1 GiB transfer through one server: wall-clock MiB/s and the server's CPU seconds for it. */
export interface Transfer {
  readonly putMiBps: number;
  readonly getMiBps: number;
  readonly putCpuSeconds: number;
  readonly getCpuSeconds: number;
}

export interface TransferPair {
  readonly artifactstore: Transfer;
  readonly registry: Transfer;
  /**
   * Control: artifactstore's GET of the same file with `Range: bytes=0-` (a range is served unverified), to tell
   * the cost of verification from that of the HTTP path.
   */
  readonly artifactstoreRangeGetMiBps: number;
  /**
   * Both full GETs again, each right after the kernel's page cache was dropped (`sync`, then 3 into
   * /proc/sys/vm/drop_caches), so both servers read from the disk; undefined where that file is not writable.
   */
  readonly cold: { readonly artifactstoreMiBps: number; readonly registryMiBps: number } | undefined;
}

/**
 * One run pair on fresh bytes (`salt`), synced to disk first: artifactstore PUT + full GET, and the registry's
 * monolithic blob upload (POST → 202 Location, PUT `<location>&digest=sha256:…` with the body) + blob GET, of the
 * very same file, with curl in its own process as the client of both; artifactstore goes first for even salts, the
 * registry for odd ones, and the cold GETs follow the same order. Only the PUT and the GET are timed on either
 * side: creating the package and opening the upload session are small requests done beforehand in this process.
 */
export async function benchTransferPair(
  artifactstore: ArtifactstoreServer,
  registry: DistributionRegistry,
  folder: string,
  sizeMiB: number,
  salt: number,
): Promise<TransferPair> {
  const size = sizeMiB * MiB;
  const source = join(folder, `upload-${salt}.bin`);
  const sha256 = createHash('sha256');
  const handle = await open(source, 'w');
  try {
    for (const chunk of bytes(size, MiB, randomBytes(4 * MiB), salt)) {
      sha256.update(chunk);
      await handle.write(chunk);
    }
    // On disk before either side runs, so that neither pays for writing back the client's source file.
    await handle.sync();
  } finally {
    await handle.close();
  }
  const digest = `sha256:${sha256.digest('hex')}`;
  try {
    // Who goes first alternates from pair to pair (even salts: artifactstore).
    const oursFirst = salt % 2 === 0;
    const theirsFirst = oursFirst ? undefined : await registryTransfer(registry, source, size, digest);
    const ours = await artifactstoreTransfer(artifactstore, source, size);
    const theirs = theirsFirst ?? (await registryTransfer(registry, source, size, digest));
    const ourUrl = `${artifactstore.base}/v1/files/${ours.fileId}`;
    const theirUrl = registryBlobUrl(registry, digest);
    const artifactstoreRangeGetMiBps = await rangeGet(ourUrl, size);
    let cold: TransferPair['cold'];
    if (await canDropCaches()) {
      const coldGet = async (url: string) => {
        await dropCaches();
        return timedGet(url, size);
      };
      const registryFirst = oursFirst ? undefined : await coldGet(theirUrl);
      const artifactstoreMiBps = await coldGet(ourUrl);
      cold = { artifactstoreMiBps, registryMiBps: registryFirst ?? (await coldGet(theirUrl)) };
    }
    return { artifactstore: ours.transfer, registry: theirs, artifactstoreRangeGetMiBps, cold };
  } finally {
    await rm(source, { force: true });
  }
}

async function artifactstoreTransfer(
  server: ArtifactstoreServer,
  source: string,
  size: number,
): Promise<{ transfer: Transfer; fileId: string }> {
  const pkg = await createPackage(server.base, 'distribution-race');
  let cpu = server.cpuSeconds();
  let start = performance.now();
  const uploaded = await curl([
    '-T',
    source,
    '-H',
    'Content-Type: application/octet-stream',
    `${server.base}/v1/packages/${pkg}/files/big.bin`,
  ]);
  const putSeconds = (performance.now() - start) / 1000;
  const putCpuSeconds = server.cpuSeconds() - cpu;
  const fileId = (JSON.parse(uploaded) as { id: string }).id;
  cpu = server.cpuSeconds();
  start = performance.now();
  const received = await curl([
    '-o',
    '/dev/null',
    '-w',
    '%{size_download}',
    `${server.base}/v1/files/${fileId}`,
  ]);
  const getSeconds = (performance.now() - start) / 1000;
  const getCpuSeconds = server.cpuSeconds() - cpu;
  if (Number(received) !== size) throw new Error(`artifactstore GET returned ${received} of ${size} bytes`);
  return {
    transfer: {
      putMiBps: size / MiB / putSeconds,
      getMiBps: size / MiB / getSeconds,
      putCpuSeconds,
      getCpuSeconds,
    },
    fileId,
  };
}

async function canDropCaches(): Promise<boolean> {
  return access(DROP_CACHES, constants.W_OK).then(
    () => true,
    () => false,
  );
}

/** Writes dirty pages out, then drops the clean page cache, dentries and inodes of the whole machine. */
async function dropCaches(): Promise<void> {
  await promisify(execFile)('sync');
  await writeFile(DROP_CACHES, '3');
}

const DROP_CACHES = '/proc/sys/vm/drop_caches';

/** A full GET with curl: MiB/s, after checking the size received. */
async function timedGet(url: string, size: number): Promise<number> {
  const start = performance.now();
  const received = await curl(['-o', '/dev/null', '-w', '%{http_code} %{size_download}', url]);
  const seconds = (performance.now() - start) / 1000;
  if (received !== `200 ${size}`) throw new Error(`GET ${url} answered ${received}`);
  return size / MiB / seconds;
}

function registryBlobUrl(registry: DistributionRegistry, digest: string): string {
  return `${registry.base}/v2/bench/big/blobs/${digest}`;
}

async function rangeGet(url: string, size: number): Promise<number> {
  const start = performance.now();
  const received = await curl([
    '-r',
    `0-${size - 1}`,
    '-o',
    '/dev/null',
    '-w',
    '%{http_code} %{size_download}',
    url,
  ]);
  const seconds = (performance.now() - start) / 1000;
  if (received !== `206 ${size}`) throw new Error(`artifactstore range GET answered ${received}`);
  return size / MiB / seconds;
}

async function registryTransfer(
  registry: DistributionRegistry,
  source: string,
  size: number,
  digest: string,
): Promise<Transfer> {
  const location = await openBlobUpload(registry.base, 'bench/big', new Agent({ keepAlive: false }));
  let cpu = await registry.cpuSeconds();
  let start = performance.now();
  const status = await curl([
    '-T',
    source,
    '-H',
    'Content-Type: application/octet-stream',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    withDigest(location, digest),
  ]);
  const putSeconds = (performance.now() - start) / 1000;
  const putCpuSeconds = (await registry.cpuSeconds()) - cpu;
  if (status !== '201') throw new Error(`registry blob PUT answered ${status}`);
  cpu = await registry.cpuSeconds();
  start = performance.now();
  const received = await curl([
    '-o',
    '/dev/null',
    '-w',
    '%{size_download}',
    registryBlobUrl(registry, digest),
  ]);
  const getSeconds = (performance.now() - start) / 1000;
  const getCpuSeconds = (await registry.cpuSeconds()) - cpu;
  if (Number(received) !== size) throw new Error(`registry blob GET returned ${received} of ${size} bytes`);
  return {
    putMiBps: size / MiB / putSeconds,
    getMiBps: size / MiB / getSeconds,
    putCpuSeconds,
    getCpuSeconds,
  };
}

/** Many small uploads from `concurrency` clients: rate, per-upload latency and the server's CPU seconds. */
export interface SmallUploadsResult {
  readonly filesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly serverCpuSeconds: number;
  /** This process's CPU seconds during the run (the client alone when the server is the registry). */
  readonly clientCpuSeconds: number;
}

/** The small files of one run pair: fresh random bytes, and their SHA-256 for the registry's digest parameter. */
export interface SmallFiles {
  readonly bodies: readonly Buffer[];
  readonly digests: readonly string[];
}

export function smallFiles(count: number, size: number): SmallFiles {
  const bodies = Array.from({ length: count }, () => randomBytes(size));
  return {
    bodies,
    digests: bodies.map((body) => `sha256:${createHash('sha256').update(body).digest('hex')}`),
  };
}

/**
 * `files` uploaded to artifactstore with PUT /v1/packages/{id}/files/<path>, `perPackage` files to a package
 * (packages created beforehand, untimed), by `concurrency` workers in this process sharing one keep-alive agent
 * with as many sockets; a worker takes the next file when its previous upload is answered.
 */
export async function benchArtifactstoreSmallUploads(
  server: ArtifactstoreServer,
  files: SmallFiles,
  concurrency: number,
  perPackage: number,
): Promise<SmallUploadsResult> {
  const packages: string[] = [];
  for (let n = 0; n * perPackage < files.bodies.length; n++)
    packages.push(await createPackage(server.base, `small-${n}`));
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  try {
    return await race(
      concurrency,
      files.bodies.length,
      () => server.cpuSeconds(),
      async (index) => {
        const pkg = packages[Math.floor(index / perPackage)] ?? '';
        const answer = await send(agent, 'PUT', `${server.base}/v1/packages/${pkg}/files/f-${index}.bin`, {
          body: files.bodies[index],
        });
        if (answer.status !== 201) throw new Error(`artifactstore PUT answered ${answer.status}`);
      },
    );
  } finally {
    agent.destroy();
  }
}

/**
 * The same files as monolithic blob uploads to the registry (POST → 202 Location, PUT with the digest and the
 * body: two requests per file, both inside its latency), `perPackage` blobs to a repository `bench/p<n>`.
 */
export async function benchRegistrySmallUploads(
  registry: DistributionRegistry,
  files: SmallFiles,
  concurrency: number,
  perPackage: number,
): Promise<SmallUploadsResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  try {
    return await race(
      concurrency,
      files.bodies.length,
      () => registry.cpuSeconds(),
      async (index) => {
        const repository = `bench/p${Math.floor(index / perPackage)}`;
        const location = await openBlobUpload(registry.base, repository, agent);
        const answer = await send(agent, 'PUT', withDigest(location, files.digests[index] ?? ''), {
          body: files.bodies[index],
        });
        if (answer.status !== 201) throw new Error(`registry blob PUT answered ${answer.status}`);
      },
    );
  } finally {
    agent.destroy();
  }
}

async function race(
  concurrency: number,
  count: number,
  serverCpuSeconds: () => number | Promise<number>,
  upload: (index: number) => Promise<void>,
): Promise<SmallUploadsResult> {
  const latencies: number[] = [];
  let next = 0;
  const serverCpuBefore = await serverCpuSeconds();
  const clientCpuBefore = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let index = next++; index < count; index = next++) {
        const begun = performance.now();
        await upload(index);
        latencies.push(performance.now() - begun);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const client = process.cpuUsage(clientCpuBefore);
  return {
    filesPerSecond: count / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    serverCpuSeconds: (await serverCpuSeconds()) - serverCpuBefore,
    clientCpuSeconds: (client.user + client.system) / 1e6,
  };
}

async function createPackage(base: string, subject: string): Promise<string> {
  const response = await fetch(`${base}/v1/packages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'bench', producer: 'bench', subject, retention_class: 'ephemeral' }),
  });
  if (response.status !== 201) throw new Error(`POST /v1/packages answered ${response.status}`);
  return ((await response.json()) as { id: string }).id;
}

/** POST /v2/<repository>/blobs/uploads/ → the upload's absolute URL. */
async function openBlobUpload(base: string, repository: string, agent: Agent): Promise<string> {
  const answer = await send(agent, 'POST', `${base}/v2/${repository}/blobs/uploads/`);
  if (answer.status !== 202 || answer.location === undefined)
    throw new Error(`registry upload POST answered ${answer.status}`);
  return new URL(answer.location, base).toString();
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

interface Answer {
  readonly status: number;
  readonly location: string | undefined;
}

/** One request on `agent`; the answer's body is read and dropped so that its socket goes back to the pool. */
function send(
  agent: Agent,
  method: string,
  url: string,
  options: { body?: Buffer | undefined } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = options.body ?? Buffer.alloc(0);
    const req = request(
      url,
      {
        method,
        agent,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length },
      },
      (res) => {
        res.resume();
        res.once('end', () => {
          resolve({ status: res.statusCode ?? 0, location: res.headers.location });
        });
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}
