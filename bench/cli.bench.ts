import { execFile, spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startArtifactstore, type ArtifactstoreServer } from './distribution.bench.js';
import { curl } from './http.bench.js';
import type { ScratchDatabase } from '../test/support/scratch-database.js';
import { median } from './stats.js';
import { seededRandom } from '../test/support/fault-scale.js';

const KiB = 1 << 10;
const MiB = 1 << 20;

/** The built CLI, `dist/apps/cli/src/main.js`, next to this file's `dist/bench/`. */
export const CLI_MAIN = fileURLToPath(new URL('../apps/cli/src/main.js', import.meta.url));

/** What one side (the CLI, or curl) did to move one workload one way. */
export interface SideRun {
  readonly seconds: number;
  /** User + system CPU seconds of the client's processes (children of this process, from /proc); NaN elsewhere. */
  readonly clientCpuSeconds: number;
  /** The server's: this process's own CPU seconds over the same span (the bench itself only waits). */
  readonly serverCpuSeconds: number;
}

export interface WorkloadPair {
  readonly cli: { readonly push: SideRun; readonly pull: SideRun };
  readonly curl: { readonly push: SideRun; readonly pull: SideRun };
}

/** A tree to push: relative paths (with `/`) and their sizes. */
export interface Workload {
  readonly label: string;
  readonly files: readonly { readonly relativePath: string; readonly size: number }[];
}

export interface CliSuiteResult {
  readonly concurrency: number;
  readonly curlVersion: string;
  readonly workloads: readonly { readonly workload: Workload; readonly pairs: readonly WorkloadPair[] }[];
  /** Wall seconds of `artifactstore ls --limit 1` against the same server, once per pair: the CLI's fixed cost. */
  readonly cliFloorSeconds: readonly number[];
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
}

/**
 * `count` file sizes, log-uniform from `min` to `max` bytes, from a fixed seed: the same tree shape every run,
 * so that only the bytes are fresh.
 */
export function logUniformSizes(count: number, min: number, max: number, seed: number): number[] {
  const next = seededRandom(seed);
  return Array.from({ length: count }, () => Math.round(min * (max / min) ** next()));
}

/** 1,000 files of 1 KiB–4 MiB in ten folders of 100, and one file of `bigMiB`. */
export function cliWorkloads(bigMiB: number): Workload[] {
  const sizes = logUniformSizes(1000, KiB, 4 * MiB, 8);
  return [
    {
      label: '1,000 files',
      files: sizes.map((size, index) => ({
        relativePath: `d${Math.floor(index / 100)}/f${String(index).padStart(4, '0')}.bin`,
        size,
      })),
    },
    {
      label: `one ${bigMiB >= 1024 ? `${bigMiB / 1024} GiB` : `${bigMiB} MiB`} file`,
      files: [{ relativePath: 'big.bin', size: bigMiB * MiB }],
    },
  ];
}

/**
 * `npm run bench -- --suites cli`: the built CLI's `push` and `pull` against curl doing the same transfers on the
 * same server (artifactstore in this process on `scratch`, as in the distribution suite), `runs` pairs per
 * workload. Each side of a pair gets its own fresh random bytes of the same sizes (identical bytes would be
 * deduplicated, and a duplicate skips fsync and rename), and the side that goes first alternates from pair to pair.
 */
export async function benchCliSuite(
  scratch: ScratchDatabase,
  runs: number,
  bigMiB: number,
): Promise<CliSuiteResult> {
  const loadBefore = loadavg();
  const concurrency = await cliDefaultConcurrency();
  const curlVersion = (await curl(['--version'])).split(' ').slice(0, 2).join(' ');
  const work = await mkdtemp(join(tmpdir(), 'artifactstore-cli-bench-'));
  const server = await startArtifactstore(scratch);
  try {
    const cliFloorSeconds: number[] = [];
    const workloads = [];
    for (const workload of cliWorkloads(bigMiB)) {
      const pairs: WorkloadPair[] = [];
      for (let run = 0; run < runs; run++) {
        pairs.push(await benchPair(server, work, workload, concurrency, run));
        cliFloorSeconds.push(await cliFloor(server));
      }
      workloads.push({ workload, pairs });
    }
    return { concurrency, curlVersion, workloads, cliFloorSeconds, loadBefore, loadAfter: loadavg() };
  } finally {
    await server.close();
    await rm(work, { recursive: true, force: true });
  }
}

/** The CLI's default `--concurrency`, read from `push --help` so that curl follows it if it changes. */
async function cliDefaultConcurrency(): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI_MAIN, 'push', '--help']);
  const match = /--concurrency <n>.*\(default: (\d+)\)/s.exec(stdout);
  if (match?.[1] === undefined)
    throw new Error(`no default --concurrency in the CLI's push --help:\n${stdout}`);
  return Number(match[1]);
}

async function cliFloor(server: ArtifactstoreServer): Promise<number> {
  const start = performance.now();
  await runChild(process.execPath, [CLI_MAIN, '--url', server.base, 'ls', '--limit', '1']);
  return (performance.now() - start) / 1000;
}

async function benchPair(
  server: ArtifactstoreServer,
  work: string,
  workload: Workload,
  concurrency: number,
  run: number,
): Promise<WorkloadPair> {
  const cliSource = join(work, `cli-source-${run}`);
  const curlSource = join(work, `curl-source-${run}`);
  await writeTree(cliSource, workload);
  await writeTree(curlSource, workload);
  // The sources' dirty pages go to disk now, not during whichever transfer runs first.
  await promisify(execFile)('sync');
  const cliTarget = join(work, `cli-target-${run}`);
  const curlTarget = join(work, `curl-target-${run}`);
  try {
    const sides = {
      cli: async () => {
        const pushed = await measure(server, () =>
          runChild(process.execPath, [
            CLI_MAIN,
            '--url',
            server.base,
            'push',
            cliSource,
            '--name',
            'bench',
            '--producer',
            'bench',
            '--subject',
            `cli-${run}`,
            '--retention',
            'ephemeral',
          ]),
        );
        return { ref: pushed.value.trim(), push: pushed.run };
      },
      curl: async () => {
        const pushed = await measure(server, () =>
          curlPush(server.base, curlSource, workload, concurrency, join(work, `curl-push-${run}.config`)),
        );
        return { ref: pushed.value, push: pushed.run };
      },
    };
    const cliFirst = run % 2 === 0;
    const [first, second] = cliFirst ? [sides.cli, sides.curl] : [sides.curl, sides.cli];
    const firstPush = await first();
    const secondPush = await second();
    const [cliPushed, curlPushed] = cliFirst ? [firstPush, secondPush] : [secondPush, firstPush];
    const pulls = {
      cli: () =>
        measure(server, async () => {
          const said = await runChild(process.execPath, [
            CLI_MAIN,
            '--url',
            server.base,
            'pull',
            cliPushed.ref,
            cliTarget,
          ]);
          if (!said.includes(`${workload.files.length} files`)) throw new Error(`CLI pull said: ${said}`);
        }),
      curl: () =>
        measure(server, () =>
          curlPull(
            server.base,
            curlPushed.ref,
            curlTarget,
            workload,
            concurrency,
            join(work, `curl-pull-${run}.config`),
          ),
        ),
    };
    const firstPull = await (cliFirst ? pulls.cli : pulls.curl)();
    const secondPull = await (cliFirst ? pulls.curl : pulls.cli)();
    const [cliPulled, curlPulled] = cliFirst ? [firstPull, secondPull] : [secondPull, firstPull];
    return {
      cli: { push: cliPushed.push, pull: cliPulled.run },
      curl: { push: curlPushed.push, pull: curlPulled.run },
    };
  } finally {
    for (const folder of [cliSource, curlSource, cliTarget, curlTarget])
      await rm(folder, { recursive: true, force: true });
  }
}

/** The workload's files under `root`, each of fresh random bytes. */
export async function writeTree(root: string, workload: Workload): Promise<void> {
  const chunk = Buffer.alloc(4 * MiB);
  for (const file of workload.files) {
    const path = join(root, ...file.relativePath.split('/'));
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(path, 'w');
    try {
      for (let offset = 0; offset < file.size; offset += chunk.length) {
        const length = Math.min(chunk.length, file.size - offset);
        randomFillSync(chunk, 0, length);
        await handle.write(chunk, 0, length);
      }
    } finally {
      await handle.close();
    }
  }
}

/**
 * curl's push: create the package (one curl), PUT every file with `--parallel --parallel-max <concurrency>` from
 * one config file (one curl process, one request per file, connections reused as the CLI's keep-alive agent
 * does), finalize (one curl). No digest headers, and `Expect:` off as the CLI sends none. Returns the package id.
 */
async function curlPush(
  base: string,
  source: string,
  workload: Workload,
  concurrency: number,
  configPath: string,
): Promise<string> {
  const created = await curl([
    '-X',
    'POST',
    '-H',
    'Content-Type: application/json',
    '--data',
    JSON.stringify({ name: 'bench', producer: 'bench', subject: 'curl', retention_class: 'ephemeral' }),
    `${base}/v1/packages`,
  ]);
  const id = (JSON.parse(created) as { id: string }).id;
  await writeFile(
    configPath,
    workload.files
      .map(
        (file) =>
          `url = ${JSON.stringify(`${base}/v1/packages/${id}/files/${file.relativePath}`)}\n` +
          `upload-file = ${JSON.stringify(join(source, ...file.relativePath.split('/')))}\n` +
          'output = "/dev/null"\n',
      )
      .join(''),
  );
  const statuses = await runChild('curl', [
    '--silent',
    '--show-error',
    '--parallel',
    '--parallel-max',
    String(concurrency),
    '-H',
    'Content-Type: application/octet-stream',
    '-H',
    'Expect:',
    '-w',
    '%{http_code}\\n',
    '--config',
    configPath,
  ]);
  expectStatuses(statuses, '201', workload.files.length, 'PUT');
  await curl(['-X', 'POST', '-o', '/dev/null', `${base}/v1/packages/${id}/finalize`]);
  return id;
}

/** curl's pull: GET every file by path, `--parallel` as for the push, into `target`; no verification. */
async function curlPull(
  base: string,
  packageId: string,
  target: string,
  workload: Workload,
  concurrency: number,
  configPath: string,
): Promise<void> {
  await writeFile(
    configPath,
    workload.files
      .map(
        (file) =>
          `url = ${JSON.stringify(`${base}/v1/packages/${packageId}/files/${file.relativePath}`)}\n` +
          `output = ${JSON.stringify(join(target, ...file.relativePath.split('/')))}\n`,
      )
      .join(''),
  );
  const statuses = await runChild('curl', [
    '--silent',
    '--show-error',
    '--parallel',
    '--parallel-max',
    String(concurrency),
    '--create-dirs',
    '-w',
    '%{http_code}\\n',
    '--config',
    configPath,
  ]);
  expectStatuses(statuses, '200', workload.files.length, 'GET');
}

function expectStatuses(output: string, status: string, count: number, method: string): void {
  const statuses = output.split('\n').filter((line) => line !== '');
  const wrong = statuses.filter((line) => line !== status);
  if (statuses.length !== count || wrong.length > 0)
    throw new Error(
      `curl ${method}: ${statuses.length} answers of ${count}, not ${status}: ${wrong.slice(0, 5).join(' ')}`,
    );
}

/** Wall time, the children's CPU (the client) and this process's CPU (the server) over `work`. */
export async function measure<T>(
  server: ArtifactstoreServer,
  work: () => Promise<T>,
): Promise<{ value: T; run: SideRun }> {
  const clientBefore = await childrenCpuSeconds();
  const serverBefore = server.cpuSeconds();
  const start = performance.now();
  const value = await work();
  const seconds = (performance.now() - start) / 1000;
  const serverCpuSeconds = server.cpuSeconds() - serverBefore;
  return {
    value,
    run: { seconds, clientCpuSeconds: (await childrenCpuSeconds()) - clientBefore, serverCpuSeconds },
  };
}

/**
 * cutime + cstime of this process from /proc/self/stat, in seconds (clock ticks of 1/100 s): the CPU of every
 * child already reaped, and of their reaped children — getrusage(RUSAGE_CHILDREN), which Node does not expose.
 * NaN where /proc is missing, so no `/usr/bin/time` is needed.
 */
async function childrenCpuSeconds(): Promise<number> {
  try {
    const stat = await readFile('/proc/self/stat', 'utf8');
    // After the command name in parentheses: state is field 3, cutime 16, cstime 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Runs a child to its end: its stdout, or an Error with the end of its stderr when it exits non-zero. */
export function runChild(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
    });
    // The CLI writes a progress line per file when stderr is not a terminal; only the end matters on failure.
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-4000);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else
        reject(new Error(`${command} ${args.slice(0, 4).join(' ')} … exited ${code ?? signal}: ${stderr}`));
    });
  });
}

/** The suite's Markdown section. */
export function cliTables(result: CliSuiteResult): string {
  const fmt1 = (n: number): string => n.toFixed(1);
  const fmt2 = (n: number): string => n.toFixed(2);
  const cpu = (n: number): string => (Number.isNaN(n) ? 'n/a' : n.toFixed(1));
  const rows: string[] = [];
  for (const { workload, pairs } of result.workloads) {
    const bytes = workload.files.reduce((sum, file) => sum + file.size, 0);
    for (const way of ['push', 'pull'] as const) {
      const cli = pairs.map((pair) => pair.cli[way]);
      const viaCurl = pairs.map((pair) => pair.curl[way]);
      const seconds = (list: readonly SideRun[]): number => median(list.map((side) => side.seconds));
      const each = (list: readonly SideRun[]): string => list.map((side) => fmt2(side.seconds)).join(', ');
      const m = (list: readonly SideRun[], key: 'clientCpuSeconds' | 'serverCpuSeconds'): number =>
        median(list.map((side) => side[key]));
      rows.push(
        `| ${workload.label} (${fmt1(bytes / MiB)} MiB) | ${way} | ${fmt2(seconds(cli))} (${each(cli)}) | ` +
          `${fmt2(seconds(viaCurl))} (${each(viaCurl)}) | ${fmt2(seconds(cli) / seconds(viaCurl))}× ` +
          `(${pairs.map((pair) => fmt2(pair.cli[way].seconds / pair.curl[way].seconds)).join(', ')}) | ` +
          `${Math.round(bytes / MiB / seconds(cli))} / ${Math.round(bytes / MiB / seconds(viaCurl))} | ` +
          `${cpu(m(cli, 'clientCpuSeconds'))} + ${cpu(m(cli, 'serverCpuSeconds'))} | ` +
          `${cpu(m(viaCurl, 'clientCpuSeconds'))} + ${cpu(m(viaCurl, 'serverCpuSeconds'))} |`,
      );
    }
  }
  const load = (list: readonly number[]): string => list.map((n) => n.toFixed(2)).join(', ');
  const floors = result.cliFloorSeconds;
  return [
    `## CLI push/pull against curl (issue #8)`,
    '',
    `The built CLI (\`node dist/apps/cli/src/main.js\`, default --concurrency ${result.concurrency}) against ` +
      `${result.curlVersion} (\`--parallel --parallel-max ${result.concurrency}\`, one request per file) on the same ` +
      `server in this process; ${result.workloads[0]?.pairs.length ?? 0} run pairs per workload on fresh bytes, ` +
      'the first side alternating; wall seconds, median (each run). The CLI pushes with digests computed first and ' +
      "pulls verified; curl's push creates, PUTs and finalizes, its pull GETs by path unverified.",
    '',
    '| workload | transfer | CLI (s) | curl (s) | CLI / curl (pairs) | MiB/s CLI / curl | CPU s CLI: client + server | CPU s curl: client + server |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `The CLI's fixed cost, \`artifactstore ls --limit 1\` on the same server: ${fmt2(median(floors))} s ` +
      `(${floors.map(fmt2).join(', ')}). Load average (1, 5, 15 min) before: ${load(result.loadBefore)}; after: ` +
      `${load(result.loadAfter)}.`,
    '',
  ].join('\n');
}
