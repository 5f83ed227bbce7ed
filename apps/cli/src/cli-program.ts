import { Command, InvalidArgumentError, Option } from 'commander';
import type { PackageQuery } from './artifact-client.js';
import { asCliError, CliError } from './cli.errors.js';
import { DEFAULT_URL, openClient, withClient, type GlobalOptions } from './client-options.js';
import { note, printResult } from './output.js';

const DEFAULT_CONCURRENCY = 4;
const REF = 'package id, content address (blake3:…) or <name>:<tag>';

/**
 * The `artifactstore` command line: every command written once against ArtifactClient. Each action imports its
 * command when it runs, so `--help` loads commander alone, and only `--local`, `serve` and `migrate` load Nest and
 * TypeORM (the others take the registry's rules from `@artifactstore/registry/rules`, which loads neither).
 */
export function buildProgram(): Command {
  const program = new Command('artifactstore')
    .description(
      'Push, pull and verify packages of an artifactstore server (or, with --local, of this machine).',
    )
    .addOption(new Option('--url <url>', 'the server').env('ARTIFACTSTORE_URL').default(DEFAULT_URL))
    .addOption(new Option('--token <token>', 'bearer token').env('ARTIFACTSTORE_TOKEN'))
    .option(
      '--local',
      'use the registry in this process, on the configured database and data folder (no server)',
    )
    .option('--json', 'print results as JSON')
    .showHelpAfterError();

  program
    .command('push')
    .description('create a package, upload every file, finalize it, and print its content address')
    .argument('<sources...>', 'a directory (paths relative to it) or files (their base names)')
    .option('--name <name>', 'package name')
    .option('--producer <producer>', 'who made it (e.g. ci)')
    .option('--subject <subject>', 'what it was made from (e.g. git:3f2c1a9)')
    .option('--retention <class>', 'retention class (e.g. standard)')
    .option('--meta <key=value>', 'a metadata string (repeatable)', collect, [])
    .option('--meta-file <file>', 'metadata from a JSON object file (--meta overrides its keys)')
    .option('--resume <package-id>', 'continue an interrupted push, skipping files already uploaded')
    .option('--tag <tag>', 'once finalized, point <name>:<tag> at it (repeatable)', collect, [])
    .addOption(resumableAboveOption())
    .addOption(concurrencyOption())
    .action(
      act(async (globals, sources: string[], options: PushFlags) => {
        const { push } = await import('./commands/push.command.js');
        const result = await withClient(
          globals,
          options.concurrency,
          (client) => push(client, sources, { ...options, json: globals.json }),
          { resumableAbove: options.resumableAbove },
        );
        // The address alone on stdout (`addr=$(artifactstore push …)`); the tags were noted on stderr.
        printResult(globals.json, result, () => result.content_address);
      }),
    );

  program
    .command('pull')
    .description('download a package into a directory, verifying every byte against its manifest')
    .argument('<ref>', REF)
    .argument('<dir>', 'target directory (created when missing)')
    .addOption(concurrencyOption())
    .addOption(logKeyOption())
    .action(
      act(async (globals, ref: string, dir: string, options: { concurrency: number; logKey?: string }) => {
        const { pull } = await import('./commands/pull.command.js');
        const { describeLogProof, logCheckOf } = await import('./commands/log-proof.js');
        const log = options.logKey === undefined ? undefined : logCheckOf(options.logKey, process.env);
        const result = await withClient(globals, options.concurrency, (client) =>
          pull(client, ref, dir, { concurrency: options.concurrency, json: globals.json, log }),
        );
        printResult(
          globals.json,
          result,
          () =>
            `${result.content_address}: ${result.files} files in ${dir}` +
            (result.log === undefined ? '' : `, ${describeLogProof(result.log)}`),
        );
      }),
    );

  program
    .command('verify')
    .description(
      'check a local tree against a manifest: missing, extra and changed files (exit 4 on any); with --log-key, also that the log holds the package',
    )
    .argument('<dir>', 'the local tree')
    .argument('<ref>', REF)
    .option('--manifest <file>', 'a manifest saved with `manifest --out` (offline, unless <ref> is a tag)')
    .addOption(
      new Option(
        '--receipt <file>',
        'a receipt saved with `receipt --out`, checked with --log-key: its manifest, entry, inclusion proof and signed checkpoint (offline, unless <ref> is a tag)',
      ).conflicts('manifest'),
    )
    .addOption(logKeyOption())
    .addOption(concurrencyOption())
    .action(
      act(async (globals, dir: string, ref: string, options: VerifyFlags) => {
        const { describeDifference, expectedManifest, verifyTree } =
          await import('./commands/verify.command.js');
        const { describeLogProof, logCheckOf } = await import('./commands/log-proof.js');
        const log = options.logKey === undefined ? undefined : logCheckOf(options.logKey, process.env);
        const expected = await expectedManifest(() => openClient(globals), ref, {
          manifestFile: options.manifest,
          receiptFile: options.receipt,
          log,
        });
        const { contentAddress } = expected;
        const result = {
          ...(await verifyTree(dir, expected.manifest, contentAddress, options.concurrency)),
          ...(expected.log === undefined ? {} : { log: expected.log }),
        };
        printResult(globals.json, result, () =>
          result.ok
            ? `${dir} matches ${contentAddress} (${result.files} files)` +
              (result.log === undefined ? '' : `, ${describeLogProof(result.log)}`)
            : result.differences.map(describeDifference).join('\n'),
        );
        if (!result.ok) {
          throw new CliError(
            'verify_failed',
            `${result.differences.length} differences from ${contentAddress}`,
          );
        }
      }),
    );

  program
    .command('receipt')
    .description(
      "a finalized package's receipt: its log entry, an inclusion proof and the signed checkpoint (for `verify --receipt`)",
    )
    .argument('<ref>', REF)
    .option('--out <file>', 'write it to this file instead of stdout')
    .addOption(
      new Option(
        '--size <n>',
        'prove it against the checkpoint of this tree size (default: the whole log)',
      ).argParser(positiveInteger),
    )
    .action(
      act(async (globals, ref: string, options: { out?: string; size?: number }) => {
        const { receipt } = await import('./commands/log.commands.js');
        await withClient(globals, 1, (client) => receipt(client, ref, { ...options, json: globals.json }));
      }),
    );

  program
    .command('log-key')
    .description("the verifier key of the log's checkpoints, for --log-key (with --local, this store's)")
    .action(
      act(async (globals, _options: object) => {
        const { logKey } = await import('./commands/log.commands.js');
        await withClient(globals, 1, (client) => logKey(client, globals.json));
      }),
    );

  program
    .command('export')
    .description(
      'write finalized packages as a bundle, a tar stream of their manifests, receipts and each distinct blob once (stdout unless --out)',
    )
    .argument('<refs...>', REF)
    .option('--out <file>', 'write the bundle to this file (whole or not at all) instead of stdout')
    .addOption(concurrencyOption())
    .action(
      act(async (globals, refs: string[], options: { out?: string; concurrency: number }) => {
        const { exportBundle } = await import('./commands/bundle-export.command.js');
        const result = await withClient(globals, options.concurrency, (client) =>
          exportBundle(client, refs, { ...options, json: globals.json }),
        );
        const summary =
          `exported ${result.packages.length} packages (${result.files} files, ${result.blobs} blobs, ${result.bytes} bytes)` +
          (result.out === null ? '' : ` to ${result.out}`);
        // On stdout the bundle is the result; the summary goes to stderr.
        if (result.out !== null) printResult(globals.json, result, () => summary);
        else if (!globals.json) note(summary);
      }),
    );

  program
    .command('import')
    .description(
      'create the packages of a bundle with the same ids and content addresses, after checking all of it (ones already here are skipped)',
    )
    .argument('<file>', 'the bundle, or - to read it from stdin')
    .addOption(resumableAboveOption())
    .addOption(concurrencyOption())
    .action(
      act(async (globals, file: string, options: { resumableAbove: number; concurrency: number }) => {
        const { importBundle } = await import('./commands/bundle-import.command.js');
        const result = await withClient(
          globals,
          options.concurrency,
          (client) => importBundle(client, file, { concurrency: options.concurrency, json: globals.json }),
          { resumableAbove: options.resumableAbove },
        );
        printResult(globals.json, result, () =>
          result.packages
            .map(
              (pkg) =>
                `${pkg.result} ${pkg.id} ${pkg.content_address} (${pkg.name}, ${pkg.files} files${pkg.result === 'skipped' ? ', already here' : ''})`,
            )
            .join('\n'),
        );
      }),
    );

  program
    .command('verify-bundle')
    .description(
      'check a bundle offline: index, manifests, receipts and every blob against each other (exit 4 on any problem); with --log-key, each receipt in the signed log',
    )
    .argument('<file>', 'the bundle, or - to read it from stdin')
    .addOption(
      new Option(
        '--log-key <key>',
        "the exporting server's verifier key (`log-key` prints it): prove each package's receipt in its signed log",
      ).env('ARTIFACTSTORE_LOG_KEY'),
    )
    .action(
      act(async (globals, file: string, options: { logKey?: string }) => {
        const { describeVerifiedBundle, verifyBundle } = await import('./commands/bundle-verify.command.js');
        const result = await verifyBundle(file, { logKey: options.logKey });
        printResult(globals.json, result, () => describeVerifiedBundle(file, result));
      }),
    );

  program
    .command('show')
    .description('one package')
    .argument('<ref>', REF)
    .action(
      act(async (globals, ref: string, _options: object) => {
        const { show } = await import('./commands/query.commands.js');
        await withClient(globals, 1, (client) => show(client, ref, globals.json));
      }),
    );

  program
    .command('ls')
    .description('packages, newest first')
    .option('--name <name>')
    .option('--producer <producer>')
    .option('--subject <subject>')
    .option('--status <status>', 'created, finalized, expired or deleted')
    .addOption(new Option('--limit <n>', 'at most this many').argParser(positiveInteger).default(100))
    .action(
      act(async (globals, options: PackageQuery & { limit: number }) => {
        const { limit, ...query } = options;
        const { list } = await import('./commands/query.commands.js');
        await withClient(globals, 1, (client) => list(client, query, limit, globals.json));
      }),
    );

  program
    .command('manifest')
    .description(
      'the manifest as canonical CBOR (checked against its address), or with --json as RFC 8785 JSON',
    )
    .argument('<ref>', REF)
    .option('--out <file>', 'write it to this file instead of stdout')
    .action(
      act(async (globals, ref: string, options: { out?: string }) => {
        const { manifest } = await import('./commands/query.commands.js');
        await withClient(globals, 1, (client) =>
          manifest(client, ref, { json: globals.json, out: options.out }),
        );
      }),
    );

  program
    .command('rm')
    .description(
      'delete a package: its files are no longer served (admins: any not held; producers: one still created)',
    )
    .argument('<ref>', REF)
    .option('--reason <text>', 'why (recorded in the event)')
    .action(
      act(async (globals, ref: string, options: { reason?: string }) => {
        const { remove } = await import('./commands/lifecycle.commands.js');
        await withClient(globals, 1, (client) => remove(client, ref, options.reason, globals.json));
      }),
    );

  program
    .command('hold')
    .description('(admin) hold a package: it neither expires nor can be deleted until released')
    .argument('<ref>', REF)
    .option('--reason <text>', 'why (recorded in the event)')
    .action(
      act(async (globals, ref: string, options: { reason?: string }) => {
        const { hold } = await import('./commands/lifecycle.commands.js');
        await withClient(globals, 1, (client) => hold(client, ref, options.reason, globals.json));
      }),
    );

  program
    .command('release')
    .description("(admin) release a package's hold")
    .argument('<ref>', REF)
    .action(
      act(async (globals, ref: string, _options: object) => {
        const { release } = await import('./commands/lifecycle.commands.js');
        await withClient(globals, 1, (client) => release(client, ref, globals.json));
      }),
    );

  program
    .command('retention')
    .description("(admin) change a package's retention class; its expiry is recomputed")
    .argument('<ref>', REF)
    .argument('<class>', 'the retention class (e.g. long_term)')
    .action(
      act(async (globals, ref: string, retentionClass: string, _options: object) => {
        const { retention } = await import('./commands/lifecycle.commands.js');
        await withClient(globals, 1, (client) => retention(client, ref, retentionClass, globals.json));
      }),
    );

  program
    .command('gc')
    .description('(admin) expire due packages and collect unreferenced blobs now')
    .option('--dry-run', 'only report what would expire and be collected', false)
    .action(
      act(async (globals, options: { dryRun: boolean }) => {
        const { gc } = await import('./commands/lifecycle.commands.js');
        await withClient(globals, 1, (client) => gc(client, { dryRun: options.dryRun, json: globals.json }));
      }),
    );

  program
    .command('scrub')
    .description(
      '(admin) start a pass that checks every stored blob against its BLAKE3 (exit 4 when one is missing or damaged)',
    )
    .option('--wait', 'wait for the pass to finish, then print its report', false)
    .action(
      act(async (globals, options: { wait: boolean }) => {
        const { scrub } = await import('./commands/lifecycle.commands.js');
        // A --local pass runs in this process and would end with it: wait for it.
        const wait = options.wait || globals.local === true;
        await withClient(globals, 1, (client) => scrub(client, { wait, json: globals.json }));
      }),
    );

  program
    .command('tag')
    .description('point a tag at a finalized package of its name (a new tag, or moved from where it pointed)')
    .argument('<ref>', REF)
    .argument('<name:tag>', 'the tag, as <name>:<tag>')
    .action(
      act(async (globals, ref: string, target: string, _options: object) => {
        const { tag } = await import('./commands/tag.commands.js');
        await withClient(globals, 1, (client) => tag(client, ref, target, globals.json));
      }),
    );

  program
    .command('untag')
    .description('(admin) remove a tag (its history stays in the event log)')
    .argument('<name:tag>', 'the tag, as <name>:<tag>')
    .action(
      act(async (globals, target: string, _options: object) => {
        const { untag } = await import('./commands/tag.commands.js');
        await withClient(globals, 1, (client) => untag(client, target, globals.json));
      }),
    );

  program
    .command('tags')
    .description("a name's tags: where each points, when it last moved and who moved it")
    .argument('<name>', 'package name')
    .action(
      act(async (globals, name: string, _options: object) => {
        const { tags } = await import('./commands/tag.commands.js');
        await withClient(globals, 1, (client) => tags(client, name, globals.json));
      }),
    );

  program
    .command('history')
    .description("a tag's moves and removals, newest first")
    .argument('<name:tag>', 'the tag, as <name>:<tag>')
    .action(
      act(async (globals, target: string, _options: object) => {
        const { history } = await import('./commands/tag.commands.js');
        await withClient(globals, 1, (client) => history(client, target, globals.json));
      }),
    );

  program
    .command('tail')
    .description('the event log: the events so far, or with --follow as they commit')
    .addOption(
      new Option('--since <sequence>', 'only events after this one').argParser(nonNegativeInteger).default(0),
    )
    .option('--follow', 'keep waiting for new events', false)
    .action(
      act(async (globals, options: { since: number; follow: boolean }) => {
        const { tail } = await import('./commands/events.commands.js');
        await withClient(globals, 1, (client) => tail(client, { ...options, json: globals.json }));
      }),
    );

  program
    .command('replay')
    .description(
      '(admin) rebuild the views from the event log: starts a server job and waits for it; prints the state digest before and after',
    )
    .option('--no-wait', 'only start the job and print it')
    .action(
      act(async (globals, options: { wait: boolean }) => {
        const { replay } = await import('./commands/admin-jobs.commands.js');
        // A --local job runs in this process and would end with it: wait for it.
        const wait = options.wait || globals.local === true;
        await withClient(globals, 1, (client) => replay(client, { wait, json: globals.json }));
      }),
    );

  program
    .command('check')
    .description(
      '(admin) verify the hash chain of the event log: starts a server job and waits for it (exit 4 when broken)',
    )
    .option('--no-wait', 'only start the job and print it')
    .action(
      act(async (globals, options: { wait: boolean }) => {
        const { check } = await import('./commands/admin-jobs.commands.js');
        const wait = options.wait || globals.local === true;
        await withClient(globals, 1, (client) => check(client, { wait, json: globals.json }));
      }),
    );

  program
    .command('serve')
    .description('run the HTTP server (configured by the ARTIFACTSTORE_* variables; what `npm start` runs)')
    .action(
      act(
        async () => {
          const { serve } = await import('./commands/server.commands.js');
          await serve();
        },
        { exitOnFailure: true },
      ),
    );

  program
    .command('migrate')
    .description('apply pending database migrations')
    .option('--fresh', 'drop everything first (destroys all data)', false)
    .action(
      act(async (globals, options: { fresh: boolean }) => {
        const { migrate } = await import('./commands/server.commands.js');
        await migrate(options.fresh, globals.json);
      }),
    );

  return program;
}

interface VerifyFlags {
  manifest?: string;
  receipt?: string;
  logKey?: string;
  concurrency: number;
}

interface PushFlags {
  name?: string;
  producer?: string;
  subject?: string;
  retention?: string;
  meta: string[];
  metaFile?: string;
  resume?: string;
  tag: string[];
  resumableAbove: number;
  concurrency: number;
}

/**
 * Wraps an action: commander passes the arguments, the command's options and the command; the action gets the
 * global options as its first parameter. Failures become one line on stderr naming the code, and the exit status;
 * with `exitOnFailure` the process exits at once (a server that failed half-way may still hold a database pool or
 * a socket that would keep it alive).
 */
function act(
  // never[]: each action declares its own argument types, which commander's call does not know.
  action: (globals: GlobalOptions, ...args: never[]) => Promise<void>,
  { exitOnFailure = false } = {},
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const globals = command.optsWithGlobals<GlobalOptions>();
    try {
      await action(globals, ...(args.slice(0, -1) as never[]));
    } catch (error) {
      const failure = asCliError(error);
      process.stderr.write(`artifactstore: ${failure.code}: ${failure.message}\n`);
      process.exitCode = failure.exitStatus;
      if (exitOnFailure) process.exit();
    }
  };
}

/** `--log-key` of `pull` and `verify`; from ARTIFACTSTORE_LOG_KEY when not given. */
function logKeyOption(): Option {
  return new Option(
    '--log-key <key>',
    "the log's verifier key (`log-key` prints it): check the package's receipt, and that the log extends the one seen before",
  ).env('ARTIFACTSTORE_LOG_KEY');
}

/** `--resumable-above` of `push` and `import`. */
function resumableAboveOption(): Option {
  return new Option(
    '--resumable-above <size>',
    'upload files larger than this resumably (tus), continuing after a broken connection (bytes, or 64MiB, 1GiB)',
  )
    .argParser(byteSize)
    .default(64 * 1024 * 1024, '64MiB');
}

function concurrencyOption(): Option {
  return new Option('--concurrency <n>', 'transfers at once')
    .argParser(positiveInteger)
    .default(DEFAULT_CONCURRENCY);
}

const BYTE_UNITS: Readonly<Record<string, number>> = { '': 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** A size in bytes: a whole number, optionally with KiB, MiB or GiB. */
function byteSize(value: string): number {
  const match = /^(\d+)\s*(kib|mib|gib)?$/i.exec(value.trim());
  const bytes = match ? Number(match[1]) * (BYTE_UNITS[(match[2] ?? '').toLowerCase()] ?? NaN) : NaN;
  if (!Number.isSafeInteger(bytes)) {
    throw new InvalidArgumentError(`not a size: ${JSON.stringify(value)} (e.g. 67108864, 64MiB, 1GiB)`);
  }
  return bytes;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1)
    throw new InvalidArgumentError('must be a positive integer');
  return number;
}

function nonNegativeInteger(value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) throw new InvalidArgumentError('must be an integer ≥ 0');
  return number;
}
