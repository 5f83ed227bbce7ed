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

/**
 * One server of the race, as curl (its own process) uploads to it and downloads from it: opening an upload is a
 * small request done before the clock starts, the PUT of the bytes and the GETs are timed.
 */
export interface Contender {
  readonly label: string;
  /** Whether it is artifactstore (whose range GET is the unverified control). */
  readonly ours: boolean;
  /** The server process's user + system CPU seconds so far. */
  cpuSeconds(): Promise<number>;
  /** Opens an upload of bytes with this SHA-256 (`sha256:<hex>`); the URL to PUT them to. */
  openUpload(digest: string): Promise<string>;
  /** PUTs `source` to `uploadUrl` with curl; the URL that GETs the stored bytes back. */
  put(uploadUrl: string, source: string): Promise<string>;
}

/** artifactstore: POST /v1/packages (untimed), PUT /v1/packages/{id}/files/big.bin, GET /v1/files/{id}. */
export function artifactstoreContender(server: ArtifactstoreServer, label: string): Contender {
  return {
    label,
    ours: true,
    cpuSeconds: () => Promise.resolve(server.cpuSeconds()),
    openUpload: async () =>
      `${server.base}/v1/packages/${await createPackage(server.base, 'distribution-race')}/files/big.bin`,
    put: async (uploadUrl, source) => {
      const answer = await curl(['-T', source, '-H', 'Content-Type: application/octet-stream', uploadUrl]);
      return `${server.base}/v1/files/${(JSON.parse(answer) as { id: string }).id}`;
    },
  };
}

/**
 * The registry: a monolithic blob upload (POST /v2/bench/big/blobs/uploads/ → 202 Location, untimed; PUT
 * `<location>&digest=sha256:…` with the body), and GET /v2/bench/big/blobs/sha256:….
 */
export function registryContender(registry: DistributionRegistry): Contender {
  const digests = new Map<string, string>();
  return {
    label: 'distribution registry',
    ours: false,
    cpuSeconds: () => registry.cpuSeconds(),
    openUpload: async (digest) => {
      const location = withDigest(
        await openBlobUpload(registry.base, 'bench/big', new Agent({ keepAlive: false })),
        digest,
      );
      digests.set(location, digest);
      return location;
    },
    put: async (uploadUrl, source) => {
      const status = await curl([
        '-T',
        source,
        '-H',
        'Content-Type: application/octet-stream',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        uploadUrl,
      ]);
      if (status !== '201') throw new Error(`registry blob PUT answered ${status}`);
      return `${registry.base}/v2/bench/big/blobs/${digests.get(uploadUrl) ?? ''}`;
    },
  };
}

/** One timed step on one contender: wall-clock seconds and the server's CPU seconds. */
export interface Timing {
  readonly seconds: number;
  readonly cpuSeconds: number;
}

/** What one contender did in one run pair. */
export interface ContenderRun {
  /** PUT of the large file. */
  readonly put: Timing;
  /** GET of it right after the PUT. */
  readonly get: Timing;
  /** GET of it again after the page cache was dropped on the whole machine; undefined where that is not possible. */
  readonly cold: Timing | undefined;
  /** artifactstore only: GET with `Range: bytes=0-` (unverified), the control. */
  readonly range: Timing | undefined;
  /** The clients each uploading, then downloading their own file, all at once. */
  readonly crowd: Timing | undefined;
}

/** `clients` clients of `mib` MiB each, each PUTting its own file and then GETting it back, all at once. */
export interface Crowd {
  readonly clients: number;
  readonly mib: number;
}

/**
 * One run pair on fresh bytes (`salt`), synced to disk first: every contender uploads the very same large file and
 * downloads it right after, then each downloads it again from a dropped page cache, then (with `crowd`) the
 * crowd's clients upload and download their own files at once. The contenders take turns in an order rotated by
 * `salt`, so that each goes first as often as the others, in every step.
 */
export async function benchRunPair(
  contenders: readonly Contender[],
  folder: string,
  sizeMiB: number,
  salt: number,
  crowd: Crowd | undefined,
): Promise<Map<string, ContenderRun>> {
  const order = contenders.map((_, index) => contenders[(index + salt) % contenders.length] as Contender);
  const size = sizeMiB * MiB;
  const big = await writeSource(join(folder, `upload-${salt}.bin`), size, salt);
  const crowdFiles: Source[] = [];
  try {
    const urls = new Map<Contender, string>();
    const steps = new Map<
      Contender,
      { put: Timing; get: Timing; cold?: Timing; range?: Timing; crowd?: Timing }
    >();
    for (const contender of order) {
      const uploadUrl = await contender.openUpload(big.digest);
      const put = await timed(contender, async () => {
        urls.set(contender, await contender.put(uploadUrl, big.path));
      });
      const url = urls.get(contender) ?? '';
      const get = await timed(contender, () => fullGet(url, size));
      steps.set(contender, { put, get });
    }
    for (const contender of order) {
      const step = steps.get(contender);
      if (step && contender.ours)
        step.range = await timed(contender, () => fullGet(urls.get(contender) ?? '', size, true));
    }
    if (await canDropCaches()) {
      for (const contender of order) {
        const step = steps.get(contender);
        await dropCaches();
        if (step) step.cold = await timed(contender, () => fullGet(urls.get(contender) ?? '', size));
      }
    }
    if (crowd) {
      for (let client = 0; client < crowd.clients; client++)
        crowdFiles.push(
          await writeSource(
            join(folder, `crowd-${salt}-${client}.bin`),
            crowd.mib * MiB,
            salt * 100 + client,
          ),
        );
      for (const contender of order) {
        const uploadUrls: string[] = [];
        for (const file of crowdFiles) uploadUrls.push(await contender.openUpload(file.digest));
        const step = steps.get(contender);
        const crowdTiming = await timed(contender, () =>
          Promise.all(
            crowdFiles.map(async (file, client) => {
              await fullGet(await contender.put(uploadUrls[client] ?? '', file.path), crowd.mib * MiB);
            }),
          ),
        );
        if (step) step.crowd = crowdTiming;
      }
    }
    return new Map(
      contenders.map((contender) => {
        const step = steps.get(contender);
        if (!step) throw new Error(`${contender.label} did not run`);
        return [
          contender.label,
          { put: step.put, get: step.get, cold: step.cold, range: step.range, crowd: step.crowd },
        ];
      }),
    );
  } finally {
    await Promise.all([big, ...crowdFiles].map((file) => rm(file.path, { force: true })));
  }
}

interface Source {
  readonly path: string;
  /** `sha256:<hex>`. */
  readonly digest: string;
}

/** Fresh bytes at `path`, synced, so that no contender pays for writing back the client's source file. */
async function writeSource(path: string, size: number, salt: number): Promise<Source> {
  const sha256 = createHash('sha256');
  const handle = await open(path, 'w');
  try {
    for (const chunk of bytes(size, MiB, randomBytes(4 * MiB), salt)) {
      sha256.update(chunk);
      await handle.write(chunk);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { path, digest: `sha256:${sha256.digest('hex')}` };
}

async function timed(contender: Contender, work: () => Promise<unknown>): Promise<Timing> {
  const cpu = await contender.cpuSeconds();
  const start = performance.now();
  await work();
  const seconds = (performance.now() - start) / 1000;
  return { seconds, cpuSeconds: (await contender.cpuSeconds()) - cpu };
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

/** A full GET with curl (with `range`, as `Range: bytes=0-<last>`), after checking the status and size received. */
async function fullGet(url: string, size: number, range = false): Promise<void> {
  const received = await curl([
    ...(range ? ['-r', `0-${size - 1}`] : []),
    '-o',
    '/dev/null',
    '-w',
    '%{http_code} %{size_download}',
    url,
  ]);
  if (received !== `${range ? 206 : 200} ${size}`) throw new Error(`GET ${url} answered ${received}`);
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
