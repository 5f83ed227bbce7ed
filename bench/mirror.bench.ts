import { execFile } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseTimestamp } from '@artifactstore/codec';
import { openCore, type CoreContext } from '../test/support/core-context.js';
import { createScratchSqlite, type ScratchDatabase } from '../test/support/scratch-database.js';
import { ServerChild } from '../test/support/server-child.js';
import { median, summarize, type LatencySummary } from './stats.js';
import { runChild } from './cli.bench.js';

const KiB = 1 << 10;
const MiB = 1 << 20;

/** The built CLI's entry and the two modules its `pull` runs on, next to this file's `dist/bench/`. */
const CLI_MAIN = fileURLToPath(new URL('../apps/cli/src/main.js', import.meta.url));
const CLI_PULL = new URL('../apps/cli/src/commands/pull.command.js', import.meta.url).href;
const CLI_HTTP_CLIENT = new URL('../apps/cli/src/http-artifact-client.js', import.meta.url).href;

/** The three files of each small package: fresh random bytes each, so that no blob is shared. */
const SMALL_FILE_SIZES = [1 * KiB, 4 * KiB, 16 * KiB] as const;
/** Packages created at once while the source is loaded in-process. */
const LOAD_CONCURRENCY = 8;
/** Packages the literal CLI (one process per package) pulls once, to show what a process costs. */
const CLI_PROCESS_SAMPLE = 100;
/** Bytes of the one file of each package written during the lag measurement. */
const LAG_FILE_BYTES = 1 * KiB;
/** Events each package written during the lag measurement appends: create, one file, finalize. */
const LAG_EVENTS_PER_PACKAGE = 3;
const ACTOR = 'bench';

/** Both servers: no collector timer (nothing here expires, and a pass would compete with the copy). */
const SERVER_ENV = { ARTIFACTSTORE_GC_INTERVAL_SECONDS: '0' } as const;

export interface MirrorBenchOptions {
  readonly runs: number;
  /** Small packages (3 files each) in the catch-up source. */
  readonly packages: number;
  /** Size of the one file of the large catch-up; 0 skips it. */
  readonly bigMiB: number;
  /** Length of the steady-state lag measurement; 0 skips it. */
  readonly lagSeconds: number;
  readonly lagEventsPerSecond: number;
  /** More variables for the mirror processes only (NODE_OPTIONS=--cpu-prof …, say). */
  readonly mirrorEnv?: Readonly<Record<string, string>>;
}

/** One mirror's catch-up, from an empty store to the source's head. */
export interface CatchUpRun {
  /** From the follower's start (its `following <url>` log line) to the head event committed on the mirror. */
  readonly seconds: number;
  /** From the spawn of the mirror's process: its boot included. */
  readonly fromSpawnSeconds: number;
  /** User + system CPU seconds of the mirror's process (boot included) and of the source over the catch-up. */
  readonly mirrorCpuSeconds: number;
  readonly sourceCpuSeconds: number;
  readonly eventsCopied: number;
  readonly blobsCopied: number;
}

/** The CLI's pull of every package of a source. */
export interface PullRun {
  readonly seconds: number;
  /** CPU seconds of the client (this process, which only pulls then) and of the source. */
  readonly clientCpuSeconds: number;
  readonly sourceCpuSeconds: number;
}

export interface CatchUpWorkload {
  readonly label: string;
  readonly packages: number;
  readonly events: number;
  readonly bytes: number;
  /** Loading the source in-process (Registry.createPackage / ingestFile / finalizePackage). */
  readonly loadSeconds: number;
  readonly mirror: readonly CatchUpRun[];
  /** `pull`, one package after another (a shell loop over `artifactstore pull`, without its process starts). */
  readonly pull: readonly PullRun[];
  /** `pull`, that many packages at once, each with the CLI's concurrency (`xargs -P`, without process starts). */
  readonly pullParallel: readonly PullRun[];
  readonly pullParallelPackages: number;
  /** The literal CLI, one process per package, on the first packages; seconds per package. */
  readonly cliProcess: { readonly packages: number; readonly secondsPerPackage: number } | undefined;
}

export interface LagResult {
  readonly seconds: number;
  readonly eventsWritten: number;
  /** Events per second the writer achieved at the source (its own clock). */
  readonly eventsPerSecond: number;
  readonly failedWrites: number;
  /** Each write request's time at the source (create, PUT, finalize): whether the source kept up. */
  readonly writeRequests: LatencySummary;
  /** The lag of the last written event on the mirror: how long it took to drain once the writes stopped. */
  readonly mirrorLastMs: number;
  /** The source's created_at of each written event → that event delivered by the mirror's event stream. */
  readonly mirror: LatencySummary;
  /** The same, by the source's own event stream: what a tail costs without any mirror. */
  readonly source: LatencySummary;
  readonly mirrorCpuSeconds: number;
  readonly sourceCpuSeconds: number;
}

export interface MirrorBenchResult {
  readonly cliConcurrency: number;
  readonly small: CatchUpWorkload;
  readonly big: CatchUpWorkload | undefined;
  readonly lag: LagResult | undefined;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
}

/** The CLI's `pull` and HTTP client as its modules export them (bench/ may not import apps/ statically). */
interface CliModules {
  pull(
    client: CliClient,
    ref: string,
    directory: string,
    options: { concurrency: number; json: boolean },
  ): Promise<{ files: number; bytes: number }>;
  HttpArtifactClient: new (options: { url: string; maxSockets: number }) => CliClient;
}

interface CliClient {
  close(): Promise<void>;
}

/**
 * `npm run bench -- --suites mirror`: a mirror's catch-up against the CLI's `pull` of the same packages from the
 * same source, taking turns, for many small packages and for one large file; then the lag of a caught-up mirror
 * while the source takes writes at a steady pace. Source and mirrors are the built server in child processes
 * (SQLite, fs), as `npm start` runs it.
 */
export async function benchMirror(
  options: MirrorBenchOptions,
  progress: (line: string) => void,
): Promise<MirrorBenchResult> {
  const loadBefore = loadavg();
  const cliConcurrency = await cliDefaultConcurrency();
  const smallSource = await startSource(
    (core) => loadSmallPackages(core, options.packages, progress),
    `${options.packages.toLocaleString('en-US')} packages of 3 files`,
    progress,
  );
  let small: CatchUpWorkload;
  let lag: LagResult | undefined;
  try {
    const { runs: catchUps, caughtUp } = await raceCatchUps(
      smallSource,
      options,
      cliConcurrency,
      progress,
      options.lagSeconds > 0,
    );
    try {
      small = { ...catchUps, cliProcess: await cliProcessSample(smallSource, progress) };
      if (caughtUp !== undefined) {
        progress(`lag: ${options.lagEventsPerSecond} events/s for ${options.lagSeconds} s`);
        lag = await measureLag(smallSource.server, caughtUp.server, options);
      }
    } finally {
      await caughtUp?.dispose();
    }
  } finally {
    await smallSource.dispose();
  }
  let big: CatchUpWorkload | undefined;
  if (options.bigMiB > 0) {
    const bigSource = await startSource(
      (core) => loadBigFile(core, options.bigMiB),
      `one ${options.bigMiB.toLocaleString('en-US')} MiB file`,
      progress,
    );
    try {
      const { runs } = await raceCatchUps(bigSource, options, cliConcurrency, progress, false);
      big = { ...runs, cliProcess: undefined };
    } finally {
      await bigSource.dispose();
    }
  }
  return { cliConcurrency, small, big, lag, loadBefore, loadAfter: loadavg() };
}

/** What a source holds: its packages, in load order. */
interface Loaded {
  readonly label: string;
  readonly ids: readonly string[];
  readonly blobs: number;
  readonly bytes: number;
}

interface Source extends Loaded {
  readonly server: ServerChild;
  readonly head: number;
  readonly loadSeconds: number;
  dispose(): Promise<void>;
}

/**
 * A store loaded in this process through the Registry (the same commands and events as uploads over HTTP, without
 * HTTP), then served by the built server in a child process. Ready once its start-up scan of the blob store is done.
 */
async function startSource(
  load: (core: CoreContext) => Promise<Omit<Loaded, 'label'>>,
  label: string,
  progress: (line: string) => void,
): Promise<Source> {
  const scratch: ScratchDatabase = await createScratchSqlite(SERVER_ENV);
  let server: ServerChild | undefined;
  try {
    const started = performance.now();
    const core = await openCore(scratch.config);
    let loaded: Omit<Loaded, 'label'>;
    try {
      loaded = await load(core);
    } finally {
      await core.app.close();
    }
    const loadSeconds = (performance.now() - started) / 1000;
    progress(`source with ${label} loaded in ${loadSeconds.toFixed(1)} s`);
    server = await ServerChild.start({ dataDir: scratch.config.dataDir, env: SERVER_ENV });
    await blobScanDone(server.url);
    const head = await headOf(server.url);
    const running = server;
    return {
      label,
      ...loaded,
      server: running,
      head,
      loadSeconds,
      dispose: async () => {
        await running.stop();
        await scratch.dispose();
      },
    };
  } catch (error) {
    await server?.stop();
    await scratch.dispose();
    throw error;
  }
}

async function loadSmallPackages(
  core: CoreContext,
  count: number,
  progress: (line: string) => void,
): Promise<Omit<Loaded, 'label'>> {
  const ids = new Array<string>(count);
  let next = 0;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: LOAD_CONCURRENCY }, async () => {
      for (let index = next++; index < count; index = next++) {
        const pkg = await core.registry.createPackage(
          {
            name: `mirror-bench-${index % 100}`,
            producer: 'bench',
            subject: `build-${index}`,
            retention_class: 'standard',
          },
          ACTOR,
        );
        for (const [file, size] of SMALL_FILE_SIZES.entries()) {
          await core.registry.ingestFile(
            pkg.id,
            `lib/file-${file}.bin`,
            undefined,
            [randomBytes(size)],
            ACTOR,
          );
        }
        await core.registry.finalizePackage(pkg.id, ACTOR);
        ids[index] = pkg.id;
        if (++done % 2000 === 0) {
          progress(`${done} packages in ${((performance.now() - started) / 1000).toFixed(0)} s`);
        }
      }
    }),
  );
  const perPackage = SMALL_FILE_SIZES.reduce((sum, size) => sum + size, 0);
  return { ids, blobs: count * SMALL_FILE_SIZES.length, bytes: count * perPackage };
}

async function loadBigFile(core: CoreContext, sizeMiB: number): Promise<Omit<Loaded, 'label'>> {
  const pkg = await core.registry.createPackage(
    { name: 'mirror-bench-big', producer: 'bench', subject: 'big', retention_class: 'standard' },
    ACTOR,
  );
  await core.registry.ingestFile(pkg.id, 'big.bin', undefined, randomChunks(sizeMiB), ACTOR);
  await core.registry.finalizePackage(pkg.id, ACTOR);
  return { ids: [pkg.id], blobs: 1, bytes: sizeMiB * MiB };
}

function* randomChunks(sizeMiB: number): Generator<Uint8Array> {
  for (let chunk = 0; chunk < sizeMiB; chunk++) yield randomFillSync(Buffer.allocUnsafe(MiB));
}

/**
 * `options.runs` mirror catch-ups and pulls of the source, taking turns (the first side alternating, so that drift
 * falls on both alike). With `keepLast`, the last mirror stays up, caught up, for the lag measurement.
 */
async function raceCatchUps(
  source: Source,
  options: MirrorBenchOptions,
  concurrency: number,
  progress: (line: string) => void,
  keepLast: boolean,
): Promise<{ runs: Omit<CatchUpWorkload, 'cliProcess'>; caughtUp: RunningMirror | undefined }> {
  const mirror: CatchUpRun[] = [];
  const pull: PullRun[] = [];
  const pullParallel: PullRun[] = [];
  // Several packages at once only where there are several: one package is one pull.
  const parallelPackages = source.ids.length > 1 ? concurrency : 0;
  let caughtUp: RunningMirror | undefined;
  const per = (seconds: number): string =>
    `${seconds.toFixed(2)} s, ${Math.round(source.head / seconds)} events/s, ${(source.bytes / MiB / seconds).toFixed(0)} MiB/s`;
  for (let run = 0; run < options.runs; run++) {
    const sides = [
      async () => {
        const last = keepLast && run === options.runs - 1;
        const copied = await catchUp(source, options.mirrorEnv ?? {});
        mirror.push(copied.run);
        progress(`${source.label}, run ${run + 1}: mirror ${per(copied.run.seconds)}`);
        if (last) caughtUp = copied.mirror;
        else await copied.mirror.dispose();
      },
      async () => {
        pull.push(await pullAll(source, concurrency, 1));
        progress(`${source.label}, run ${run + 1}: pull ${per(pull.at(-1)?.seconds ?? NaN)}`);
        if (parallelPackages > 1) {
          pullParallel.push(await pullAll(source, concurrency, parallelPackages));
          progress(
            `${source.label}, run ${run + 1}: pull ×${parallelPackages} ${per(pullParallel.at(-1)?.seconds ?? NaN)}`,
          );
        }
      },
    ];
    if (run % 2 === 1) sides.reverse();
    for (const side of sides) await side();
  }
  return {
    runs: {
      label: source.label,
      packages: source.ids.length,
      events: source.head,
      bytes: source.bytes,
      loadSeconds: source.loadSeconds,
      mirror,
      pull,
      pullParallel,
      pullParallelPackages: parallelPackages,
    },
    caughtUp,
  };
}

interface RunningMirror {
  readonly server: ServerChild;
  dispose(): Promise<void>;
}

/** A new mirror of `source` on an empty SQLite store, timed until the source's head is committed on it. */
async function catchUp(
  source: Source,
  mirrorEnv: Readonly<Record<string, string>>,
): Promise<{ run: CatchUpRun; mirror: RunningMirror }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'artifactstore-mirror-bench-'));
  let server: ServerChild | undefined;
  const dispose = async (): Promise<void> => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const sourceCpuBefore = await processCpuSeconds(source.server.pid);
    const spawnedAt = Date.now();
    server = await ServerChild.start({
      dataDir,
      env: { ...SERVER_ENV, ARTIFACTSTORE_FOLLOW_URL: source.server.url, ...mirrorEnv },
    });
    const endedAt = await committedOn(server, source.head);
    const sourceCpuSeconds = (await processCpuSeconds(source.server.pid)) - sourceCpuBefore;
    const mirrorCpuSeconds = await processCpuSeconds(server.pid);
    const startedAt = followerStartedAt(server.output(), source.server.url);
    const metrics = await metricsOf(server.url);
    const run: CatchUpRun = {
      seconds: (endedAt - startedAt) / 1000,
      fromSpawnSeconds: (endedAt - spawnedAt) / 1000,
      mirrorCpuSeconds,
      sourceCpuSeconds,
      eventsCopied: metrics.get('artifactstore_mirror_events_copied_total') ?? NaN,
      blobsCopied: metrics.get('artifactstore_mirror_blobs_copied_total') ?? NaN,
    };
    if (run.eventsCopied !== source.head || run.blobsCopied !== source.blobs) {
      throw new Error(
        `the mirror copied ${run.eventsCopied} events and ${run.blobsCopied} blobs, not ${source.head} and ${source.blobs}`,
      );
    }
    return { run, mirror: { server, dispose } };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/**
 * When event `sequence` was committed on `mirror`, as a long-poll for it there answers (the tail wakes on each
 * commit). Throws if the mirror stops following.
 */
async function committedOn(mirror: ServerChild, sequence: number): Promise<number> {
  for (;;) {
    const response = await fetch(`${mirror.url}/v1/events?since=${sequence - 1}&limit=1&wait=30`);
    const body = (await response.json()) as { events?: { sequence: number }[] };
    if (response.status !== 200)
      throw new Error(`the mirror answered ${response.status}: ${JSON.stringify(body)}`);
    if (body.events?.[0]?.sequence === sequence) return Date.now();
    const ready = (await (await fetch(`${mirror.url}/readyz`)).json()) as {
      mirror?: { state: string; detail: string | null };
    };
    if (ready.mirror?.state !== 'following' || !mirror.alive()) {
      throw new Error(
        `the mirror is ${ready.mirror?.state ?? 'gone'}: ${ready.mirror?.detail ?? mirror.output().slice(-2000)}`,
      );
    }
  }
}

/** The time of the mirror's `following <url>` log line: its follower starts right after it. */
function followerStartedAt(log: string, sourceUrl: string): number {
  const line = log.split('\n').find((text) => text.includes(`following ${sourceUrl}`));
  const time = line === undefined ? undefined : /"time":"([^"]+)"/.exec(line)?.[1];
  if (time === undefined) throw new Error(`no "following ${sourceUrl}" line with a time in the mirror's log`);
  return Date.parse(time);
}

/** The CLI's `pull` of every package of `source` into a fresh folder, `atOnce` packages at a time. */
async function pullAll(source: Source, concurrency: number, atOnce: number): Promise<PullRun> {
  const cli = await cliModules();
  const target = await mkdtemp(join(tmpdir(), 'artifactstore-mirror-bench-pull-'));
  // One client per `artifactstore pull` process would hold `concurrency` sockets; so many processes, so many.
  const client = new cli.HttpArtifactClient({ url: source.server.url, maxSockets: concurrency * atOnce });
  try {
    const sourceCpuBefore = await processCpuSeconds(source.server.pid);
    const clientCpuBefore = process.cpuUsage();
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: atOnce }, async () => {
        for (let index = next++; index < source.ids.length; index = next++) {
          const id = source.ids[index] ?? '';
          await cli.pull(client, id, join(target, id), { concurrency, json: true });
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const clientCpu = process.cpuUsage(clientCpuBefore);
    return {
      seconds,
      clientCpuSeconds: (clientCpu.user + clientCpu.system) / 1e6,
      sourceCpuSeconds: (await processCpuSeconds(source.server.pid)) - sourceCpuBefore,
    };
  } finally {
    await client.close();
    await rm(target, { recursive: true, force: true });
  }
}

/** `artifactstore --json pull <id> <dir>`, one process per package, one after another, on the first packages. */
async function cliProcessSample(
  source: Source,
  progress: (line: string) => void,
): Promise<CatchUpWorkload['cliProcess']> {
  const ids = source.ids.slice(0, CLI_PROCESS_SAMPLE);
  const target = await mkdtemp(join(tmpdir(), 'artifactstore-mirror-bench-cli-'));
  try {
    const started = performance.now();
    for (const id of ids) {
      await runChild(process.execPath, [
        CLI_MAIN,
        '--url',
        source.server.url,
        '--json',
        'pull',
        id,
        join(target, id),
      ]);
    }
    const secondsPerPackage = (performance.now() - started) / 1000 / ids.length;
    progress(`the CLI, one process per package: ${(secondsPerPackage * 1000).toFixed(0)} ms per package`);
    return { packages: ids.length, secondsPerPackage };
  } finally {
    await rm(target, { recursive: true, force: true });
  }
}

/**
 * Writes packages (create, one 1 KiB file, finalize: 3 events) on the source at `lagEventsPerSecond`, each
 * started on schedule whether or not the one before has finished, for `lagSeconds`; meanwhile the event streams
 * of the mirror and of the source itself are read, and each written event's lag is the time it arrives there less
 * its created_at at the source (one clock: all on this machine).
 */
async function measureLag(
  source: ServerChild,
  mirror: ServerChild,
  options: MirrorBenchOptions,
): Promise<LagResult> {
  const since = await headOf(source.url);
  const mirrorTail = new EventStreamReader(mirror.url, since);
  const sourceTail = new EventStreamReader(source.url, since);
  try {
    await Promise.all([mirrorTail.opened, sourceTail.opened]);
    const mirrorCpuBefore = await processCpuSeconds(mirror.pid);
    const sourceCpuBefore = await processCpuSeconds(source.pid);
    const packages = Math.round((options.lagSeconds * options.lagEventsPerSecond) / LAG_EVENTS_PER_PACKAGE);
    const intervalMs = (1000 * LAG_EVENTS_PER_PACKAGE) / options.lagEventsPerSecond;
    const writes: Promise<void>[] = [];
    const requestMs: number[] = [];
    let failedWrites = 0;
    const started = performance.now();
    for (let index = 0; index < packages; index++) {
      const due = started + index * intervalMs - performance.now();
      if (due > 0) await sleep(due);
      writes.push(
        writeSmallPackage(source.url, index, requestMs).catch(() => {
          failedWrites++;
        }),
      );
    }
    await Promise.all(writes);
    const head = await headOf(source.url);
    await Promise.all([mirrorTail.reached(head, 60_000), sourceTail.reached(head, 60_000)]);
    const [first, last] = await Promise.all([eventAt(source.url, since + 1), eventAt(source.url, head)]);
    const mirrorCpuSeconds = (await processCpuSeconds(mirror.pid)) - mirrorCpuBefore;
    const sourceCpuSeconds = (await processCpuSeconds(source.pid)) - sourceCpuBefore;
    const eventsWritten = head - since;
    const span = (parseTimestamp(last.created_at) - parseTimestamp(first.created_at)) / 1000;
    return {
      seconds: span,
      eventsWritten,
      eventsPerSecond: (eventsWritten - 1) / span,
      failedWrites,
      writeRequests: summarize(requestMs),
      mirrorLastMs: mirrorTail.lagsMs.at(-1) ?? NaN,
      mirror: summarize(mirrorTail.lagsMs),
      source: summarize(sourceTail.lagsMs),
      mirrorCpuSeconds,
      sourceCpuSeconds,
    };
  } finally {
    await Promise.all([mirrorTail.close(), sourceTail.close()]);
  }
}

async function writeSmallPackage(url: string, index: number, requestMs: number[]): Promise<void> {
  const expectOk = async (request: Promise<Response>): Promise<string> => {
    const started = performance.now();
    const response = await request;
    const text = await response.text();
    requestMs.push(performance.now() - started);
    if (response.status >= 300) throw new Error(`${response.url}: ${response.status} ${text}`);
    return text;
  };
  const created = await expectOk(
    fetch(`${url}/v1/packages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'mirror-bench-lag',
        producer: 'bench',
        subject: `lag-${index}`,
        retention_class: 'standard',
      }),
    }),
  );
  const { id } = JSON.parse(created) as { id: string };
  await expectOk(
    fetch(`${url}/v1/packages/${id}/files/f.bin`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: randomBytes(LAG_FILE_BYTES),
    }),
  );
  await expectOk(fetch(`${url}/v1/packages/${id}/finalize`, { method: 'POST' }));
}

/**
 * Reads `GET /v1/events/stream?since=…` (Server-Sent Events) and notes, for each event, when it arrived here less
 * the created_at it carries.
 */
class EventStreamReader {
  readonly lagsMs: number[] = [];
  readonly opened: Promise<void>;
  private head: number;
  private readonly stopping = new AbortController();
  private readonly reading: Promise<void>;
  private failure: Error | undefined;

  constructor(url: string, since: number) {
    this.head = since;
    let open: () => void = () => undefined;
    this.opened = new Promise((resolve) => {
      open = resolve;
    });
    this.reading = this.read(`${url}/v1/events/stream?since=${since}`, open).catch((error: unknown) => {
      if (!this.stopping.signal.aborted)
        this.failure = error instanceof Error ? error : new Error(String(error));
      open();
    });
  }

  /** Resolves once event `sequence` has arrived; throws after `timeoutMs` or when the stream failed. */
  async reached(sequence: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.head < sequence) {
      if (this.failure) throw this.failure;
      if (performance.now() > deadline)
        throw new Error(`the event stream stopped at ${this.head}, not ${sequence}`);
      await sleep(10);
    }
  }

  async close(): Promise<void> {
    this.stopping.abort();
    await this.reading;
  }

  private async read(url: string, open: () => void): Promise<void> {
    const response = await fetch(url, { signal: this.stopping.signal });
    if (response.status !== 200 || response.body === null) throw new Error(`${url}: ${response.status}`);
    open();
    const decoder = new TextDecoder();
    let buffered = '';
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      const arrived = Date.now();
      buffered += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const message = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = message
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n');
        if (data === '') continue;
        const event = JSON.parse(data) as { sequence: number; created_at: string };
        this.lagsMs.push(arrived - parseTimestamp(event.created_at));
        this.head = event.sequence;
      }
    }
  }
}

async function headOf(url: string): Promise<number> {
  const response = await fetch(`${url}/readyz`);
  const body = (await response.json()) as { head_sequence?: number };
  if (response.status !== 200 || body.head_sequence === undefined) {
    throw new Error(`${url}/readyz answered ${response.status}: ${JSON.stringify(body)}`);
  }
  return body.head_sequence;
}

async function eventAt(url: string, sequence: number): Promise<{ created_at: string }> {
  const response = await fetch(`${url}/v1/events?since=${sequence - 1}&limit=1`);
  const body = (await response.json()) as { events: { sequence: number; created_at: string }[] };
  const event = body.events[0];
  if (event?.sequence !== sequence) throw new Error(`${url} has no event ${sequence}`);
  return event;
}

/** The server's Prometheus samples without labels, by name. */
async function metricsOf(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const match of text.matchAll(/^([a-z_]+) (\S+)$/gm)) {
    if (match[1] !== undefined) samples.set(match[1], Number(match[2]));
  }
  return samples;
}

/** Waits for the server's start-up scan of its blob store, which would otherwise overlap the first run. */
async function blobScanDone(url: string): Promise<void> {
  const deadline = performance.now() + 300_000;
  while (
    Number.isNaN((await metricsOf(url)).get('artifactstore_unreferenced_blobs_scan_timestamp_seconds') ?? NaN)
  ) {
    if (performance.now() > deadline) throw new Error(`${url} did not finish its blob scan`);
    await sleep(200);
  }
}

/** utime + stime of a process from /proc/<pid>/stat, in seconds (clock ticks of 1/100 s); NaN without /proc. */
async function processCpuSeconds(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

let loadedCli: Promise<CliModules> | undefined;

/** The built CLI's own `pull` and HTTP client, loaded once. */
function cliModules(): Promise<CliModules> {
  loadedCli ??= (async () => {
    const [pullModule, clientModule] = (await Promise.all([import(CLI_PULL), import(CLI_HTTP_CLIENT)])) as [
      Pick<CliModules, 'pull'>,
      Pick<CliModules, 'HttpArtifactClient'>,
    ];
    return { pull: pullModule.pull, HttpArtifactClient: clientModule.HttpArtifactClient };
  })();
  return loadedCli;
}

/** The CLI's default `--concurrency` of `pull`, read from its help. */
async function cliDefaultConcurrency(): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI_MAIN, 'pull', '--help']);
  const match = /--concurrency <n>.*\(default: (\d+)\)/s.exec(stdout);
  if (match?.[1] === undefined)
    throw new Error(`no default --concurrency in the CLI's pull --help:\n${stdout}`);
  return Number(match[1]);
}

/** The suite's Markdown section. */
export function mirrorTables(result: MirrorBenchResult): string {
  const lines = [
    '## mirror catch-up against `pull` (SQLite, fs)',
    '',
    'A mirror (the built server with ARTIFACTSTORE_FOLLOW_URL, a child process, empty SQLite store) copies the ' +
      "source's log and blobs until the source's head is committed on it (a long-poll for that event on the mirror); " +
      'timed from its follower\'s start (its "following" log line), with the time from its spawn beside. The ' +
      `baseline is the built CLI's own \`pull\` code (default --concurrency ${result.cliConcurrency}, verified, ` +
      'into a temporary folder) of every package of the same source, in this process: one package after another ' +
      'as a shell loop over `artifactstore pull` would, and several at once as `xargs -P` would, both without the ' +
      'process start each `artifactstore` costs (measured apart below). Mirror and pulls take turns, the first ' +
      'side alternating; median (each run). Events/s for the pull: the events of those packages over its time.',
    '',
    '| workload | mirror | pull, one package after another | mirror / pull | pull, packages at once | mirror / that | mirror from its spawn | CPU s mirror + source | CPU s pull client + source |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    catchUpRow(result.small),
  ];
  if (result.big) lines.push(catchUpRow(result.big));
  const fmt2 = (n: number): string => n.toFixed(2);
  const load = (list: readonly number[]): string => list.map(fmt2).join(', ');
  lines.push('');
  for (const workload of [result.small, result.big]) {
    if (workload === undefined) continue;
    lines.push(
      `Source with ${workload.label}: ${workload.events.toLocaleString('en-US')} events, ` +
        `${(workload.bytes / MiB).toFixed(1)} MiB, loaded in-process through the Registry in ${workload.loadSeconds.toFixed(1)} s.`,
    );
  }
  const cli = result.small.cliProcess;
  if (cli) {
    lines.push(
      '',
      `The literal CLI, \`artifactstore --json pull <id> <dir>\` one process per package on the first ${cli.packages} ` +
        `packages: ${(cli.secondsPerPackage * 1000).toFixed(0)} ms per package, i.e. ` +
        `${(result.small.packages * cli.secondsPerPackage).toFixed(0)} s for all ${result.small.packages.toLocaleString('en-US')} ` +
        `(${Math.round(result.small.events / (result.small.packages * cli.secondsPerPackage))} events/s).`,
    );
  }
  const lag = result.lag;
  if (lag) {
    const row = (label: string, summary: LatencySummary): string =>
      `| ${label} | ${summary.count} | ${summary.p50Ms.toFixed(0)} | ${summary.p99Ms.toFixed(0)} | ${summary.maxMs.toFixed(0)} |`;
    lines.push(
      '',
      `Steady-state lag: the last mirror above, caught up, while the source takes ${lag.eventsWritten.toLocaleString('en-US')} ` +
        `events in ${lag.seconds.toFixed(1)} s (${lag.eventsPerSecond.toFixed(1)} events/s: packages of create, one ` +
        `1 KiB file, finalize, each started on schedule; ${lag.failedWrites} writes failed). Lag of an event: when ` +
        "the mirror's event stream delivered it here, less its created_at at the source; the source's own stream " +
        `beside, as the floor. CPU s over the writes: mirror ${lag.mirrorCpuSeconds.toFixed(1)}, source ${lag.sourceCpuSeconds.toFixed(1)}.`,
      '',
      '| measure | count | p50 (ms) | p99 (ms) | max (ms) |',
      '| --- | --- | --- | --- | --- |',
      row("lag: the mirror's event stream", lag.mirror),
      row("lag: the source's own event stream", lag.source),
      row('a write request at the source (create, PUT, finalize)', lag.writeRequests),
      '',
      `The last event written reached the mirror ${lag.mirrorLastMs.toFixed(0)} ms after its created_at.`,
    );
  }
  lines.push(
    '',
    `Load average (1, 5, 15 min) before: ${load(result.loadBefore)}; after: ${load(result.loadAfter)}.`,
    '',
  );
  return lines.join('\n');
}

function catchUpRow(workload: CatchUpWorkload): string {
  const fmt2 = (n: number): string => n.toFixed(2);
  const seconds = (list: readonly { seconds: number }[]): number => median(list.map((run) => run.seconds));
  const each = (list: readonly { seconds: number }[]): string =>
    list.map((run) => fmt2(run.seconds)).join(', ');
  const rate = (s: number): string =>
    workload.packages > 1
      ? `${Math.round(workload.events / s).toLocaleString('en-US')} events/s, ${Math.round(workload.packages / s).toLocaleString('en-US')} packages/s`
      : `${Math.round(workload.bytes / MiB / s).toLocaleString('en-US')} MiB/s`;
  const side = (list: readonly { seconds: number }[]): string =>
    list.length === 0 ? 'n/a' : `${fmt2(seconds(list))} s: ${rate(seconds(list))} (${each(list)})`;
  const ratioTo = (list: readonly { seconds: number }[]): string =>
    list.length === 0 ? '' : `${fmt2(seconds(list) / seconds(workload.mirror))}×`;
  const cpu = (list: readonly { a: number; b: number }[]): string =>
    `${median(list.map((x) => x.a)).toFixed(1)} + ${median(list.map((x) => x.b)).toFixed(1)}`;
  return (
    `| ${workload.label} | ${side(workload.mirror)} | ${side(workload.pull)} | ${ratioTo(workload.pull)} | ` +
    `${workload.pullParallelPackages > 1 ? `×${workload.pullParallelPackages}: ${side(workload.pullParallel)}` : 'n/a'} | ` +
    `${ratioTo(workload.pullParallel)} | ${fmt2(median(workload.mirror.map((run) => run.fromSpawnSeconds)))} s | ` +
    `${cpu(workload.mirror.map((run) => ({ a: run.mirrorCpuSeconds, b: run.sourceCpuSeconds })))} | ` +
    `${cpu(workload.pull.map((run) => ({ a: run.clientCpuSeconds, b: run.sourceCpuSeconds })))} |`
  );
}
