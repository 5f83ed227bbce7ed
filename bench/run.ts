import { availableParallelism, cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import {
  benchConcurrentIngest,
  benchDataplane,
  type ConcurrentIngestResult,
  type DataplaneResult,
  type IngestHashing,
} from './dataplane.bench.js';
import { benchAppend, benchReplay, benchTailFanOut, benchTailLatency } from './event-log.bench.js';
import { benchCliSuite, cliTables } from './cli.bench.js';
import { benchGarbageCollection, gcTable } from './gc.bench.js';
import { benchTags, tagsTable } from './tags.bench.js';
import { benchMirror, mirrorTables } from './mirror.bench.js';
import { benchTransparency, transparencyTable } from './transparency.bench.js';
import { benchFinalizeLatency, benchPackageFlow, benchWriters } from './registry.bench.js';
import { benchBundles, type BundleRun } from './bundle.bench.js';
import { benchHttpTransfer, type HttpTransferResult } from './http.bench.js';
import { benchTus, tusTable } from './tus.bench.js';
import { benchS3, type S3BenchResult } from './s3.bench.js';
import {
  artifactstoreContender,
  type ArtifactstoreServer,
  benchArtifactstoreSmallUploads,
  benchRegistrySmallUploads,
  benchRunPair,
  type Contender,
  type ContenderRun,
  registryContender,
  type SmallUploadsResult,
  smallFiles,
  startArtifactstore,
  type Timing,
} from './distribution.bench.js';
import { distributionRegistryVersion, startDistributionRegistry } from './distribution-registry.js';
import {
  createScratchPostgres,
  createScratchSqlite,
  type ScratchDatabase,
} from '../test/support/scratch-database.js';
import { median } from './stats.js';
import { HashWorkerPool } from './worker-hashing.js';

/**
 * `npm run bench [-- options]`, the options in USAGE (`-- --help` prints them). `--suites hashing` (not in the
 * default) compares hashing on the main thread and on a worker for concurrent ingests (ADR 0005). `distribution`
 * races artifactstore against the CNCF distribution registry (issue #6) and needs its `docker-registry` binary
 * (Debian package `docker-registry`); without it the bench stops at once.
 * `cli` times the built CLI's push and pull against curl (issue #8; one --blob-mib file and 1,000 small ones).
 * Prints a Markdown report: every figure is the median of --runs runs, beside its baseline from the same run.
 * PostgreSQL is measured when --pg-url or ARTIFACTSTORE_TEST_PG_URL names a server.
 */
const USAGE = `usage: npm run bench [-- options]
  --suites LIST          eventlog,tails,dataplane,registry,http,distribution,s3,cli (the default), hashing, gc, tus,
                         tags, transparency, mirror, writers or bundles
  --dialects LIST        sqlite,postgres
  --runs N               runs per figure, medians reported (3)
  --blob-mib N           size of the large transfers (1024)
  --concurrent-mib N     size of each concurrent ingest (256)
  --replay-events N      events in the replay benchmark (100000)
  --small-uploads N      4 KiB uploads in the distribution race (10000)
  --crowd N              clients that each upload, then download their own file at once in the race (8; 0: none)
  --crowd-mib N          size of each crowd client's file (64)
  --fs-direct-io LIST    ARTIFACTSTORE_FS_DIRECT_IO of artifactstore in the distribution race: true, false, or
                         true,false for one artifactstore of each, all three servers taking turns (true)
  --gc-packages N        packages in the gc suite's store, a tenth of them due (1000000)
  --gc-uploads N         64 KiB uploads timed without the collector in the gc suite (1000)
  --tags-packages LIST   package counts of the tags suite's store, the first the baseline (10000,1000000)
  --transparency-packages N
                         packages (5 events each) per append run of the transparency suite (1000); its replays
                         use --replay-events, its pairs at least 5 runs
  --transparency-events N
                         events of the transparency suite's large SQLite log (5000000; 0: none)
  --transparency-pg-events N
                         events of its large PostgreSQL log (1000000; 0: none)
  --mirror-packages N    small packages (3 files each) a mirror catches up on in the mirror suite (10000); its
                         large catch-up is one --blob-mib file
  --mirror-lag-seconds N how long the mirror suite writes 100 events/s for its lag (30; 0: none)
  --writers-packages N   packages per figure of the writers suite (300), with 1, 2 and 16 in flight
  --pg-url URL           PostgreSQL to measure (default: ARTIFACTSTORE_TEST_PG_URL)`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  suites: { type: 'string', default: 'eventlog,tails,dataplane,registry,http,distribution,s3,cli' },
  dialects: { type: 'string', default: 'sqlite,postgres' },
  'blob-mib': { type: 'string', default: '1024' },
  'concurrent-mib': { type: 'string', default: '256' },
  runs: { type: 'string', default: '3' },
  'replay-events': { type: 'string', default: '100000' },
  'small-uploads': { type: 'string', default: '10000' },
  crowd: { type: 'string', default: '8' },
  'crowd-mib': { type: 'string', default: '64' },
  'fs-direct-io': { type: 'string', default: 'true' },
  'gc-packages': { type: 'string', default: '1000000' },
  'gc-uploads': { type: 'string', default: '1000' },
  'tags-packages': { type: 'string', default: '10000,1000000' },
  'transparency-packages': { type: 'string', default: '1000' },
  'transparency-events': { type: 'string', default: '5000000' },
  'transparency-pg-events': { type: 'string', default: '1000000' },
  'mirror-packages': { type: 'string', default: '10000' },
  'mirror-lag-seconds': { type: 'string', default: '30' },
  'writers-packages': { type: 'string', default: '300' },
  'pg-url': { type: 'string', default: process.env.ARTIFACTSTORE_TEST_PG_URL ?? '' },
} as const;

const { values } = parseCommandLine();

function parseCommandLine() {
  try {
    const parsed = parseArgs({ options: OPTIONS });
    if (parsed.values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const directIo = parsed.values['fs-direct-io'].split(',');
    if (
      directIo.some((value) => value !== 'true' && value !== 'false') ||
      new Set(directIo).size !== directIo.length
    ) {
      throw new Error(
        `--fs-direct-io must be true, false or true,false, not ${JSON.stringify(directIo.join(','))}`,
      );
    }
    return parsed;
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

const runs = Number(values.runs);
const replayEvents = Number(values['replay-events']);
const pgUrl = values['pg-url'];

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ratio = (a: number, b: number): string => `${Math.round((a / b) * 100)}%`;

async function withScratch<T>(
  create: () => Promise<ScratchDatabase>,
  work: (s: ScratchDatabase) => Promise<T>,
) {
  const scratch = await create();
  try {
    return await work(scratch);
  } finally {
    await scratch.dispose();
  }
}

async function machine(): Promise<string> {
  const lines = [
    `- CPU: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
    `- Node ${process.version}, SQLite ${new Sqlite(':memory:').prepare('SELECT sqlite_version() AS v').pluck().get() as string}`,
  ];
  if (pgUrl) {
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    lines.push(
      `- PostgreSQL ${result.rows[0]?.server_version ?? '?'} on 127.0.0.1 (synchronous_commit default)`,
    );
    await client.end();
  }
  return lines.join('\n');
}

async function dataplaneReport(): Promise<string> {
  const sizeMiB = Number(values['blob-mib']);
  const rows: string[] = [];
  for (const chunkKiB of [64, 1024]) {
    const results: DataplaneResult[] = [];
    for (let run = 0; run < runs; run++) results.push(await benchDataplane(sizeMiB, chunkKiB, run * 31));
    const m = (key: keyof DataplaneResult): number => median(results.map((result) => result[key]));
    // The store writes and reads with O_DIRECT (ADR 0011); the raw read goes through the page cache for comparison.
    const limit = Math.min(m('rawDirectWriteMiBps'), m('hashOnlyMiBps'));
    rows.push(
      `| ${chunkKiB} KiB | ${fmt(m('ingestMiBps'))} | ${fmt(m('rawDirectWriteMiBps'))} | ${fmt(m('rawWriteMiBps'))} | ` +
        `${fmt(m('hashOnlyMiBps'))} | ${ratio(m('ingestMiBps'), limit)} | ${fmt(m('verifiedReadMiBps'))} | ` +
        `${fmt(m('rawReadMiBps'))} | ${ratio(m('verifiedReadMiBps'), m('rawReadMiBps'))} | ` +
        `${m('ingestRssGrowthMiB').toFixed(1)} | ${fmt(m('concurrentIngestMiBps'))} |`,
    );
  }
  return [
    `## dataplane (FsBlobStore, ${fmt(sizeMiB)} MiB, MiB/s)`,
    '',
    '| source chunks | ingest | raw durable write, O_DIRECT | the same through the page cache | BLAKE3 + SHA-256 alone | ingest / slower limit | verified read (O_DIRECT) | raw read through the page cache | ratio | ingest RSS growth (MiB) | 4 concurrent ingests |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

function scratchOf(dialect: string): () => Promise<ScratchDatabase> {
  return () => (dialect === 'sqlite' ? createScratchSqlite() : createScratchPostgres(pgUrl));
}

/** A PUT and a full GET through the server beside the dataplane alone, each run in one process. */
async function httpReport(): Promise<string> {
  const sizeMiB = Number(values['blob-mib']);
  const results: HttpTransferResult[] = [];
  for (let run = 0; run < runs; run++)
    results.push(
      await withScratch(
        () => createScratchSqlite(),
        (s) => benchHttpTransfer(s, sizeMiB),
      ),
    );
  const m = (key: keyof HttpTransferResult): number => median(results.map((result) => result[key]));
  return [
    `## HTTP (${fmt(sizeMiB)} MiB over loopback, MiB/s)`,
    '',
    '| transfer | through the server | dataplane alone, same run | ratio |',
    '| --- | --- | --- | --- |',
    `| PUT /v1/packages/{id}/files/… vs FsBlobStore.ingest | ${fmt(m('putMiBps'))} | ${fmt(m('ingestMiBps'))} | ${ratio(m('putMiBps'), m('ingestMiBps'))} |`,
    `| GET /v1/files/{id} vs FsBlobStore.open (both verified) | ${fmt(m('getMiBps'))} | ${fmt(m('readMiBps'))} | ${ratio(m('getMiBps'), m('readMiBps'))} |`,
    '',
  ].join('\n');
}

/**
 * artifactstore against the distribution registry, all on this machine's disk: --blob-mib PUT and GET with curl as
 * the client (right after the upload and from a dropped page cache), --crowd clients each uploading then
 * downloading their own --crowd-mib file at once, then --small-uploads uploads of 4 KiB from 16 in-process
 * clients. With `--fs-direct-io true,false` two artifactstore servers race, one writing with O_DIRECT and one
 * through the page cache. The servers take turns in an order rotated from pair to pair on the same fresh bytes;
 * medians of --runs pairs.
 */
async function distributionReport(): Promise<string> {
  const sizeMiB = Number(values['blob-mib']);
  const smallCount = Number(values['small-uploads']);
  const crowdClients = Number(values.crowd);
  const crowd = crowdClients > 0 ? { clients: crowdClients, mib: Number(values['crowd-mib']) } : undefined;
  const concurrency = 16;
  const perPackage = 100;
  const registry = await startDistributionRegistry();
  const scratches: ScratchDatabase[] = [];
  const servers: ArtifactstoreServer[] = [];
  try {
    const ours: Contender[] = [];
    for (const directIo of values['fs-direct-io'].split(',')) {
      const scratch = await createScratchSqlite({ ARTIFACTSTORE_FS_DIRECT_IO: directIo });
      scratches.push(scratch);
      const server = await startArtifactstore(scratch);
      servers.push(server);
      ours.push(artifactstoreContender(server, directIo === 'true' ? 'O_DIRECT writes' : 'buffered writes'));
    }
    const registryRacer = registryContender(registry);
    const contenders = [registryRacer, ...ours];
    const folder = scratches[0]?.config.dataDir ?? '';
    const pairs: Map<string, ContenderRun>[] = [];
    for (let run = 0; run < runs; run++)
      pairs.push(await benchRunPair(contenders, folder, sizeMiB, 1000 + run, crowd));
    const small = { artifactstore: [] as SmallUploadsResult[], registry: [] as SmallUploadsResult[] };
    const firstServer = servers[0];
    for (let run = 0; run < runs && smallCount > 0 && firstServer; run++) {
      const files = smallFiles(smallCount, 4096);
      small.artifactstore.push(
        await benchArtifactstoreSmallUploads(firstServer, files, concurrency, perPackage),
      );
      small.registry.push(await benchRegistrySmallUploads(registry, files, concurrency, perPackage));
    }
    return distributionTables(
      registry.version,
      sizeMiB,
      crowd,
      contenders,
      pairs,
      smallCount,
      concurrency,
      small,
    );
  } finally {
    for (const server of servers) await server.close();
    for (const scratch of scratches) await scratch.dispose();
    await registry.stop();
  }
}

function distributionTables(
  version: string,
  sizeMiB: number,
  crowd: { clients: number; mib: number } | undefined,
  contenders: readonly Contender[],
  pairs: readonly Map<string, ContenderRun>[],
  smallCount: number,
  concurrency: number,
  small: { artifactstore: readonly SmallUploadsResult[]; registry: readonly SmallUploadsResult[] },
): string {
  const [registry, ...ours] = contenders;
  if (!registry) return '';
  const runsOf = (contender: Contender): ContenderRun[] =>
    pairs.map((pair) => {
      const run = pair.get(contender.label);
      if (!run) throw new Error(`no run of ${contender.label}`);
      return run;
    });
  type Step = 'put' | 'get' | 'cold' | 'range' | 'crowd';
  const timings = (contender: Contender, step: Step): Timing[] =>
    runsOf(contender).flatMap((run) => (run[step] ? [run[step]] : []));
  const crowdMiB = crowd ? crowd.clients * crowd.mib * 2 : 0;
  // What a step moves: the file once, or each crowd client's file up and down.
  const mibOf = (step: Step): number => (step === 'crowd' ? crowdMiB : sizeMiB);
  const speeds = (contender: Contender, step: Step): number[] =>
    timings(contender, step).map((timing) => mibOf(step) / timing.seconds);
  const roundTrips = (contender: Contender): number[] =>
    runsOf(contender).map((run) => (2 * sizeMiB) / (run.put.seconds + run.get.seconds));
  const each = (list: readonly number[]): string => list.map(fmt).join(', ');
  const cell = (list: readonly number[]): string =>
    list.length === 0 ? '–' : `${fmt(median(list))} (${each(list)})`;
  const ratioOf = (oursList: readonly number[], theirs: readonly number[]): string =>
    oursList.length === 0 || theirs.length === 0 ? '–' : `${(median(oursList) / median(theirs)).toFixed(2)}×`;
  const row = (label: string, aim: string, list: (contender: Contender) => number[]): string =>
    `| ${label} | ${cell(list(registry))} | ` +
    ours
      .map((contender) => `${cell(list(contender))} | ${ratioOf(list(contender), list(registry))}`)
      .join(' | ') +
    ` | ${aim} |`;
  const cpuPerGiB = (contender: Contender, step: Step): string => {
    const list = timings(contender, step).map((timing) => timing.cpuSeconds / (mibOf(step) / 1024));
    return list.length === 0 ? '–' : median(list).toFixed(2);
  };
  const cpuRow = (label: string, step: Step): string =>
    `| ${label} | ${[registry, ...ours].map((contender) => cpuPerGiB(contender, step)).join(' | ')} |`;
  const oursHeader = ours.map((contender) => `artifactstore, ${contender.label} | ratio`).join(' | ');
  const lines = [
    `## against the distribution registry (${version})`,
    '',
    `${fmt(sizeMiB)} MiB over loopback, curl as the client of every server, ${pairs.length} run pairs on fresh bytes, the servers taking turns in an order rotated from pair to pair; MiB/s, median (each pair); ratio: artifactstore's median over the registry's.` +
      (crowd
        ? ` Crowd: ${crowd.clients} curl clients at once, each PUTting its own ${crowd.mib} MiB file and then GETting it back; MiB/s is ${crowd.clients} × ${crowd.mib} MiB × 2 over the wall time of the slowest, so its ratio is the registry's wall time over ours.`
        : ''),
    '',
    `| transfer | distribution registry | ${oursHeader} | aim |`,
    `| --- | --- | ${ours.map(() => '--- | ---').join(' | ')} | --- |`,
    row('upload: PUT file vs monolithic blob PUT', '≥ 1.5×', (contender) => speeds(contender, 'put')),
    row(
      'download from a cold page cache (dropped before each GET on the whole machine)',
      '≥ 1.0×',
      (contender) => speeds(contender, 'cold'),
    ),
    row(
      crowd
        ? `${crowd.clients} clients × ${crowd.mib} MiB, each upload then download, at once`
        : 'crowd: not run',
      '≥ 1.0×',
      (contender) => speeds(contender, 'crowd'),
    ),
    row('download right after the upload (reported, no aim)', '', (contender) => speeds(contender, 'get')),
    row('upload then download: PUT + GET right after it, over both times', '', roundTrips),
    row('control: GET with Range: bytes=0- (unverified)', '', (contender) =>
      contender.ours ? speeds(contender, 'range') : [],
    ),
    '',
    'Server CPU seconds (user + system) per GiB moved, median:',
    '',
    `| step | distribution registry | ${ours.map((contender) => `artifactstore, ${contender.label}`).join(' | ')} |`,
    `| --- | --- | ${ours.map(() => '---').join(' | ')} |`,
    cpuRow('upload', 'put'),
    cpuRow('download right after the upload', 'get'),
    cpuRow('download from a cold page cache', 'cold'),
    cpuRow('crowd (up and down)', 'crowd'),
    '',
  ];
  if (small.artifactstore.length === 0) return lines.join('\n');
  const smallRow = (label: string, list: readonly SmallUploadsResult[]): string => {
    const m = (key: keyof SmallUploadsResult): number => median(list.map((result) => result[key]));
    return (
      `| ${label} | ${fmt(m('filesPerSecond'))} (${each(list.map((result) => result.filesPerSecond))}) | ` +
      `${m('p50Ms').toFixed(1)} | ${m('p99Ms').toFixed(1)} | ${m('serverCpuSeconds').toFixed(1)} | ${m('clientCpuSeconds').toFixed(1)} |`
    );
  };
  lines.push(
    `${fmt(smallCount)} uploads of 4 KiB, ${concurrency} concurrent clients **in this process** (node:http, keep-alive agent), 100 files per package / repository, against the first artifactstore above; median (each run)`,
    '',
    "| server | files/s | p50 latency (ms) | p99 latency (ms) | CPU s of the server's process | CPU s of the bench process (the clients) |",
    '| --- | --- | --- | --- | --- | --- |',
    smallRow('artifactstore: PUT /v1/packages/{id}/files/…', small.artifactstore),
    smallRow('distribution registry: POST + PUT monolithic blob upload', small.registry),
    '',
    "artifactstore runs in the bench process, so its two CPU figures are one: server and clients together; the registry row's last column is the clients' own cost.",
    '',
  );
  return lines.join('\n');
}

/** `artifactstore push` / `pull` (the built CLI) against curl on one server, same concurrency (issue #8). */
async function cliReport(): Promise<string> {
  const result = await withScratch(
    () => createScratchSqlite(),
    (scratch) => benchCliSuite(scratch, runs, Number(values['blob-mib'])),
  );
  return cliTables(result);
}

/** S3BlobStore beside FsBlobStore and a plain lib-storage upload; needs the S3 server of the tests. */
async function s3Report(): Promise<string> {
  const endpoint = process.env.ARTIFACTSTORE_TEST_S3_ENDPOINT;
  if (!endpoint)
    return '## S3\n\nnot measured: start scripts/s3-server.sh and eval "$(scripts/s3-server.sh env)"\n';
  const sizeMiB = Number(values['blob-mib']);
  const results: S3BenchResult[] = [];
  for (let run = 0; run < runs; run++) {
    results.push(
      await benchS3(
        {
          endpoint,
          region: process.env.ARTIFACTSTORE_TEST_S3_REGION ?? 'us-east-1',
          bucket: 'artifactstore-bench',
          forcePathStyle: true,
          accessKeyId: process.env.ARTIFACTSTORE_TEST_S3_ACCESS_KEY_ID,
          secretAccessKey: process.env.ARTIFACTSTORE_TEST_S3_SECRET_ACCESS_KEY,
          createBucket: true,
        },
        sizeMiB,
      ),
    );
  }
  const m = (key: keyof S3BenchResult): number => median(results.map((result) => result[key]));
  return [
    `## S3 (${fmt(sizeMiB)} MiB, MiB/s)`,
    '',
    '| measure | S3BlobStore | FsBlobStore, same run | plain lib-storage upload, same run | S3 ingest / plain upload |',
    '| --- | --- | --- | --- | --- |',
    `| ingest | ${fmt(m('s3IngestMiBps'))} | ${fmt(m('fsIngestMiBps'))} | ${fmt(m('plainUploadMiBps'))} | ${ratio(m('s3IngestMiBps'), m('plainUploadMiBps'))} |`,
    `| verified full read | ${fmt(m('s3ReadMiBps'))} | ${fmt(m('fsReadMiBps'))} | | |`,
    '',
  ].join('\n');
}

/** Packages/s through the registry beside the plain append rate (1 event per transaction) of the same run. */
async function registryReport(dialect: string): Promise<string> {
  const create = scratchOf(dialect);
  const flows = [];
  const appends = [];
  for (let run = 0; run < runs; run++) {
    appends.push(await withScratch(create, (s) => benchAppend(s, 1000, 1)));
    flows.push(await withScratch(create, (s) => benchPackageFlow(s, 30, 10, 4096, 4)));
  }
  const append = median(appends.map((r) => r.appendPerSecond));
  const flow = median(flows.map((r) => r.packagesPerSecond));
  const concurrent = median(flows.map((r) => r.concurrentPackagesPerSecond));
  // create + 10 ingests + finalize = 12 events per package; its parts measured alone: 12 appends and 10 blobs.
  const eventsPerPackage = 12;
  const blobMs = median(flows.map((r) => r.blobIngestMs));
  const parts = 1000 / ((eventsPerPackage * 1000) / append + 10 * blobMs);
  const finalize = await withScratch(create, (s) => benchFinalizeLatency(s, 10_000, runs));
  return [
    `## registry on ${dialect}`,
    '',
    '| measure | artifactstore | baseline: its parts alone, one at a time | ratio |',
    '| --- | --- | --- | --- |',
    `| create → ingest 10 × 4 KiB → finalize, one at a time | ${flow.toFixed(1)} packages/s | ${parts.toFixed(1)} packages/s: 12 × EventLog.append (${fmt(append)} ev/s, 1 per transaction) + 10 × FsBlobStore.ingest (${blobMs.toFixed(2)} ms each) | ${ratio(flow, parts)} |`,
    `| the same, 4 packages at once | ${concurrent.toFixed(1)} packages/s | | ${ratio(concurrent, parts)} |`,
    `| finalize of a ${fmt(finalize.files)}-file package (manifest ${fmt(finalize.manifestBytes)} bytes) | ${finalize.finalizeMs.toFixed(0)} ms | | |`,
    '',
  ].join('\n');
}

/** Export against pull and import against push of one --blob-mib package (issue 23), in turns. */
async function bundlesReport(): Promise<string> {
  const sizeMiB = Number(values['blob-mib']);
  const results = await benchBundles(runs, sizeMiB);
  const seconds = (side: keyof BundleRun): number => median(results.map((result) => result[side].seconds));
  const each = (side: keyof BundleRun): string =>
    results.map((result) => result[side].seconds.toFixed(2)).join(', ');
  const row = (side: keyof BundleRun, peer: keyof BundleRun): string =>
    `| ${side} | ${seconds(side).toFixed(2)} (${each(side)}) | ${fmt(sizeMiB / seconds(side))} | ${peer}: ` +
    `${seconds(peer).toFixed(2)} (${each(peer)}) | ${ratio(seconds(peer), seconds(side))} |`;
  return [
    `## bundles (one package of one ${fmt(sizeMiB)} MiB file, the built CLI; seconds, median of ${runs})`,
    '',
    '| transfer | seconds (each run) | MiB/s | its peer, same runs | speed against the peer |',
    '| --- | --- | --- | --- | --- |',
    row('export', 'pull'),
    row('import', 'push'),
    '',
  ].join('\n');
}

const WRITERS = [1, 2, 16] as const;

/**
 * Packages/s (create → 3 × 4 KiB → finalize) with 1, 2 and 16 in flight, on every dialect, the dialects taking
 * turns run by run; PostgreSQL against SQLite and 16 writers against 2 in the same runs.
 */
async function writersReport(dialects: readonly string[]): Promise<string> {
  const packages = Number(values['writers-packages']);
  const rates = new Map<string, number[][]>(dialects.map((dialect) => [dialect, []]));
  for (let run = 0; run < runs; run++) {
    for (const dialect of run % 2 === 0 ? dialects : [...dialects].reverse()) {
      const measured = await withScratch(scratchOf(dialect), (s) => benchWriters(s, packages, 3, WRITERS));
      rates.get(dialect)?.push(measured);
    }
  }
  const at = (dialect: string, column: number): number =>
    median((rates.get(dialect) ?? []).map((measured) => measured[column] ?? 0));
  const sqlite = dialects.includes('sqlite') ? at('sqlite', WRITERS.length - 1) : undefined;
  const rows = dialects.map((dialect) => {
    const cells = WRITERS.map((_, column) => at(dialect, column).toFixed(1));
    const last = at(dialect, WRITERS.length - 1);
    const scaling = ratio(last, at(dialect, 1));
    const against = sqlite === undefined ? '' : ratio(last, sqlite);
    return `| ${dialect} | ${cells.join(' | ')} | ${scaling} | ${against} |`;
  });
  return [
    `## writers (${fmt(packages)} packages per figure: create → 3 × 4 KiB → finalize, packages/s)`,
    '',
    `| dialect | ${WRITERS.map((n) => `${n} in flight`).join(' | ')} | 16 against 2 | 16 against SQLite's 16 |`,
    `| --- | ${WRITERS.map(() => '---').join(' | ')} | --- | --- |`,
    ...rows,
    '',
  ].join('\n');
}

/**
 * Ingest throughput, CPU and event-loop delay for 1, 2 and 4 concurrent ingests, hashing on the main thread
 * (FsBlobStore, and the prototype's same code path) or on a worker thread (the prototype); ADR 0005.
 */
async function hashingReport(): Promise<string> {
  const sizeMiB = Number(values['concurrent-mib']);
  const workers = Math.max(1, availableParallelism() - 1);
  const pool = new HashWorkerPool(workers);
  const modes: [IngestHashing, string][] = [
    ['fs-blob-store', 'FsBlobStore (both digests on the main thread)'],
    ['main', 'prototype, both digests on the main thread'],
    ['worker-sha256', 'prototype, SHA-256 on a worker'],
    ['worker-both', 'prototype, both digests on a worker'],
    ['none', 'prototype, no hashing (control)'],
  ];
  const rows: string[] = [];
  try {
    for (const concurrency of [1, 2, 4]) {
      const results = new Map<IngestHashing, ConcurrentIngestResult[]>(modes.map(([mode]) => [mode, []]));
      // Interleaved, so that the machine's drift falls on every mode alike.
      for (let run = 0; run < runs; run++) {
        for (const [mode] of modes) {
          results.get(mode)?.push(await benchConcurrentIngest(concurrency, sizeMiB, mode, pool, run * 7));
        }
      }
      for (const [mode, label] of modes) {
        const list = results.get(mode) ?? [];
        const m = (key: keyof ConcurrentIngestResult): number => median(list.map((result) => result[key]));
        rows.push(
          `| ${concurrency} | ${label} | ${fmt(m('mibps'))} | ${m('cores').toFixed(2)} | ` +
            `${Math.round(m('mainThreadBusy') * 100)}% | ${m('loopDelayP50Ms').toFixed(1)} / ` +
            `${m('loopDelayP99Ms').toFixed(1)} / ${m('loopDelayMaxMs').toFixed(1)} |`,
        );
      }
    }
  } finally {
    await pool.close();
  }
  return [
    `## hashing threads (${fmt(sizeMiB)} MiB per ingest, 64 KiB source chunks, ${workers} hash worker(s))`,
    '',
    '| ingests at once | hashing | total MiB/s | CPU cores busy | main thread busy | event-loop delay p50 / p99 / max (ms) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const suites = values.suites.split(',');
  if (suites.includes('distribution')) {
    // Before any other suite, so that a missing binary costs no waiting.
    try {
      await distributionRegistryVersion();
    } catch (error) {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
      return;
    }
  }
  const dialects = values.dialects
    .split(',')
    .filter((d) => d === 'sqlite' || (d === 'postgres' && pgUrl !== ''));
  process.stdout.write(`# artifactstore benchmark, ${new Date().toISOString()}\n\n${await machine()}\n`);
  process.stdout.write(`- ${runs} runs per figure; medians\n\n`);
  if (suites.includes('dataplane')) process.stdout.write(`${await dataplaneReport()}\n`);
  if (suites.includes('hashing')) process.stdout.write(`${await hashingReport()}\n`);
  if (suites.includes('http')) process.stdout.write(`${await httpReport()}\n`);
  if (suites.includes('s3')) process.stdout.write(`${await s3Report()}\n`);
  if (suites.includes('distribution')) process.stdout.write(`${await distributionReport()}\n`);
  if (suites.includes('cli')) process.stdout.write(`${await cliReport()}\n`);
  if (suites.includes('registry')) {
    for (const dialect of dialects) process.stdout.write(`${await registryReport(dialect)}\n`);
  }
  if (suites.includes('writers')) process.stdout.write(`${await writersReport(dialects)}\n`);
  if (suites.includes('bundles')) process.stdout.write(`${await bundlesReport()}\n`);
  if (suites.includes('tails')) {
    for (const dialect of dialects) process.stdout.write(`${await tailsReport(dialect)}\n`);
  }
  if (suites.includes('tus')) {
    // A --blob-mib file by tus in 8 MiB chunks against one PUT of it, taking turns (issue #21).
    const result = await withScratch(createScratchSqlite, (s) =>
      benchTus(s, Number(values['blob-mib']), 8, runs),
    );
    process.stdout.write(`${tusTable(result)}\n`);
  }
  if (suites.includes('gc')) {
    // One destructive run per dialect on a store built for it (issue #20); progress goes to stderr.
    for (const dialect of dialects) {
      const result = await benchGarbageCollection(
        dialect === 'sqlite' ? 'sqlite' : 'postgres',
        pgUrl,
        { packages: Number(values['gc-packages']), uploads: Number(values['gc-uploads']) },
        (line) => process.stderr.write(`gc ${dialect}: ${line}\n`),
      );
      process.stdout.write(`${gcTable(dialect, result)}\n`);
    }
  }
  if (suites.includes('tags')) {
    // getTag and idempotent create against the store's size, one store per dialect grown in turn (issue #21).
    for (const dialect of dialects) {
      const results = await benchTags(
        dialect === 'sqlite' ? 'sqlite' : 'postgres',
        pgUrl,
        { packages: values['tags-packages'].split(',').map(Number) },
        (line) =>
          process.stderr.write(`tags ${dialect}: ${line}
`),
      );
      process.stdout.write(`${tagsTable(dialect, results)}
`);
    }
  }
  if (suites.includes('transparency')) {
    // The log tree's cost on appends and replay against the code without it, then reads of a large log.
    for (const dialect of dialects) {
      const result = await benchTransparency(
        dialect === 'sqlite' ? 'sqlite' : 'postgres',
        pgUrl,
        {
          runs: Math.max(5, runs),
          appendPackages: Number(values['transparency-packages']),
          replayEvents,
          largeEvents: Number(
            values[dialect === 'sqlite' ? 'transparency-events' : 'transparency-pg-events'],
          ),
        },
        (line) => process.stderr.write(`transparency ${dialect}: ${line}\n`),
      );
      process.stdout.write(`${transparencyTable(dialect, result)}\n`);
    }
  }
  if (suites.includes('mirror')) {
    // A mirror's catch-up against `pull` of the same packages, then its lag under steady writes (ADR 0016).
    const result = await benchMirror(
      {
        runs,
        packages: Number(values['mirror-packages']),
        bigMiB: Number(values['blob-mib']),
        lagSeconds: Number(values['mirror-lag-seconds']),
        lagEventsPerSecond: 100,
      },
      (line) => process.stderr.write(`mirror: ${line}\n`),
    );
    process.stdout.write(`${mirrorTables(result)}\n`);
  }
  if (!suites.includes('eventlog')) return;
  for (const dialect of dialects) {
    const create = () => (dialect === 'sqlite' ? createScratchSqlite() : createScratchPostgres(pgUrl));
    const single = dialect === 'sqlite' ? 2000 : 1000;
    const appendRows: string[] = [];
    for (const [label, count, perTx] of [
      ['1 event per transaction', single, 1],
      ['100 events per transaction', 20_000, 100],
    ] as const) {
      const results = [];
      for (let run = 0; run < runs; run++)
        results.push(await withScratch(create, (s) => benchAppend(s, count, perTx)));
      const append = median(results.map((r) => r.appendPerSecond));
      const raw = median(results.map((r) => r.rawPerSecond));
      appendRows.push(
        `| append, ${label} | ${fmt(append)} ev/s | ${fmt(raw)} rows/s | ${ratio(append, raw)} |`,
      );
    }
    const replay = await withScratch(create, (s) => benchReplay(s, replayEvents, runs));
    const latencyRuns: Awaited<ReturnType<typeof benchTailLatency>>[] = [];
    for (let run = 0; run < runs; run++) {
      latencyRuns.push(
        await withScratch(create, (s) => benchTailLatency(s, 300, dialect === 'sqlite' ? 50 : 1000)),
      );
    }
    const p = (key: 'p50Ms' | 'p99Ms' | 'commitP50Ms' | 'commitP99Ms') =>
      median(latencyRuns.map((r) => r[key])).toFixed(2);
    process.stdout.write(
      [
        `## ${dialect}`,
        '',
        '| measure | artifactstore | baseline (plain INSERT, same driver) | ratio |',
        '| --- | --- | --- | --- |',
        ...appendRows,
        `| replay of ${fmt(replay.events)} events | ${fmt(replay.replayPerSecond)} ev/s (${fmt(replay.replayRowsPerSecond)} rows/s) | ${fmt(replay.rawRowsPerSecond)} rows/s | ${ratio(replay.replayRowsPerSecond, replay.rawRowsPerSecond)} |`,
        `| commit → tailer in another context, p50 / p99 | ${p('p50Ms')} / ${p('p99Ms')} ms | append commit alone: ${p('commitP50Ms')} / ${p('commitP99Ms')} ms | |`,
        '',
      ].join('\n') + '\n',
    );
  }
}

/**
 * Tails in one process (long-polls and event streams) while commits arrive: reads of the log per commit and
 * commit → subscriber latency with 1, 100 and 1,000 subscribers (ADR 0012).
 */
async function tailsReport(dialect: string): Promise<string> {
  const create = () => (dialect === 'sqlite' ? createScratchSqlite() : createScratchPostgres(pgUrl));
  const rows = [];
  for (const subscribers of [1, 100, 1000]) {
    const results = [];
    for (let run = 0; run < runs; run++) {
      results.push(await withScratch(create, (s) => benchTailFanOut(s, subscribers, 200)));
    }
    rows.push({
      subscribers,
      readsPerCommit: median(results.map((r) => r.readsPerCommit)),
      p50Ms: median(results.map((r) => r.p50Ms)),
      p99Ms: median(results.map((r) => r.p99Ms)),
    });
  }
  const oneP99 = rows[0]?.p99Ms ?? NaN;
  return [
    `## tails on ${dialect}`,
    '',
    '200 commits, a few ms apart; aim: reads per commit independent of the subscribers, p99 with 1,000 ≤ 3× the p99 with one.',
    '',
    '| subscribers | log reads per commit | commit → subscriber p50 / p99 | p99 against one subscriber |',
    '| --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${fmt(r.subscribers)} | ${r.readsPerCommit.toFixed(2)} | ${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)} ms | ${(r.p99Ms / oneP99).toFixed(2)}× |`,
    ),
    '',
  ].join('\n');
}

await main();
