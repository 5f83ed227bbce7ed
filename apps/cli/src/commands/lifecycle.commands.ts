import { setTimeout as sleep } from 'node:timers/promises';
import type { PackageRecord } from '@artifactstore/registry';
import type { ArtifactClient, GcReport, ScrubStatus } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import { printResult } from '../output.js';
import { formatBytes, type ProgressSink } from '../progress-reporter.js';
import { packageIdOf } from './package-ref.js';

/** How often `scrub --wait` asks for the pass's state. */
const SCRUB_POLL_MS = 1_000;
/** Off a terminal, `scrub --wait` writes a progress line at most this often, so logs stay short. */
const SCRUB_LOG_MS = 10_000;

/** `rm <ref> [--reason]`: delete a package (its files are no longer served; its metadata and manifest stay). */
export async function remove(
  client: ArtifactClient,
  ref: string,
  reason: string | undefined,
  json: boolean | undefined,
): Promise<void> {
  const pkg = await client.deletePackage(await packageIdOf(client, ref), reason);
  printResult(json, pkg, () => `deleted ${pkg.id}${because(pkg.removal_reason)}`);
}

/** `hold <ref> [--reason]` (admin): the package neither expires nor can be deleted until released. */
export async function hold(
  client: ArtifactClient,
  ref: string,
  reason: string | undefined,
  json: boolean | undefined,
): Promise<void> {
  const pkg = await client.holdPackage(await packageIdOf(client, ref), reason);
  printResult(json, pkg, () => `held ${pkg.id}${because(pkg.hold_reason)}`);
}

/** `release <ref>` (admin): end a hold; the package's expiry applies again. */
export async function release(client: ArtifactClient, ref: string, json: boolean | undefined): Promise<void> {
  const pkg = await client.releasePackage(await packageIdOf(client, ref));
  printResult(json, pkg, () => `released ${pkg.id}; ${describeExpiry(pkg)}`);
}

/** `retention <ref> <class>` (admin): change the retention class; the server recomputes the expiry. */
export async function retention(
  client: ArtifactClient,
  ref: string,
  retentionClass: string,
  json: boolean | undefined,
): Promise<void> {
  const pkg = await client.changeRetention(await packageIdOf(client, ref), retentionClass);
  printResult(json, pkg, () => `${pkg.id}: retention class ${pkg.retention_class}; ${describeExpiry(pkg)}`);
}

/** `gc [--dry-run]` (admin): expire due packages and collect unreferenced blobs now, or report what would go. */
export async function gc(
  client: ArtifactClient,
  options: { dryRun: boolean; json?: boolean },
): Promise<void> {
  const report = await client.collectGarbage({ dryRun: options.dryRun });
  printResult(options.json, report, () => describeGc(report));
}

/**
 * `scrub [--wait]` (admin): start a pass that reads every stored blob back against its BLAKE3 and print its state;
 * with `wait`, ask again each second (progress on stderr unless `json`) until it is over, then print the report.
 * A finished pass that found missing or damaged blobs exits 4, one that failed exits 5.
 */
export async function scrub(
  client: ArtifactClient,
  options: { wait: boolean; json?: boolean },
  sink: ProgressSink = process.stderr,
): Promise<void> {
  let status = await client.startScrub();
  if (options.wait) {
    const progress = new ScrubProgress(sink, options.json === true);
    while (status.state === 'running') {
      progress.show(status);
      await sleep(SCRUB_POLL_MS);
      status = await client.scrubStatus();
    }
    progress.finish();
  }
  printResult(options.json, status, () => describeScrub(status));
  if (status.state === 'failed') {
    throw new CliError('scrub_failed', `the scrub pass failed: ${status.error ?? 'no reason given'}`);
  }
  if (status.state === 'done' && status.missing + status.damaged > 0) {
    throw new CliError(
      'scrub_found_damage',
      `${status.missing} missing and ${status.damaged} damaged blobs (see the findings)`,
    );
  }
}

/** Progress of a scrub being waited for: a line redrawn in place on a terminal, else a line every 10 s. */
class ScrubProgress {
  private lastLine = 0;
  private drawn = false;
  private readonly tty: boolean;

  constructor(
    private readonly sink: ProgressSink,
    private readonly quiet: boolean,
  ) {
    this.tty = sink.isTTY === true;
  }

  show(status: ScrubStatus): void {
    if (this.quiet) return;
    const line = `scrubbed ${plural(status.checked.blobs, 'blob')} (${formatBytes(status.checked.bytes)}) so far: ${status.missing} missing, ${status.damaged} damaged`;
    if (this.tty) {
      this.sink.write(`\r${line}`);
      this.drawn = true;
    } else if (Date.now() - this.lastLine >= SCRUB_LOG_MS) {
      this.sink.write(`artifactstore: ${line}\n`);
      this.lastLine = Date.now();
    }
  }

  finish(): void {
    if (this.drawn) this.sink.write('\n');
  }
}

function because(reason: string | null): string {
  return reason ? ` (${reason})` : '';
}

function describeExpiry(pkg: PackageRecord): string {
  if (pkg.held) return `held${because(pkg.hold_reason)}, so it does not expire`;
  if (pkg.expires_at !== null) return `expires at ${pkg.expires_at}`;
  return pkg.status === 'finalized' ? 'it does not expire' : `it is ${pkg.status}`;
}

function describeGc(report: GcReport): string {
  const [expire, collect] = report.dry_run ? ['would expire', 'would collect'] : ['expired', 'collected'];
  const unlisted = report.expired_count - report.expired.length;
  return [
    `${expire} ${plural(report.expired_count, 'package')}${report.expired_count > 0 ? ':' : ''}`,
    ...report.expired.map((expiry) => `  ${expiry.id}  ${expiry.reason}`),
    ...(unlisted > 0 ? [`  … and ${unlisted} more`] : []),
    `${collect} ${plural(report.collected.blobs, 'blob')} (${formatBytes(report.collected.bytes)})`,
    `kept past their expiry: ${report.kept.held} held, ${report.kept.latest} as the latest of their name`,
    ...(report.dry_run ? ['dry run: nothing was changed'] : []),
  ].join('\n');
}

function describeScrub(status: ScrubStatus): string {
  const unlistedFindings = status.missing + status.damaged + status.orphaned - status.findings.length;
  const checked = `${plural(status.checked.blobs, 'blob')} (${formatBytes(status.checked.bytes)}) checked`;
  switch (status.state) {
    case 'idle':
      return 'no scrub pass has run';
    case 'running':
      return `scrub running since ${status.started_at ?? '?'}: ${checked} so far`;
    case 'failed':
      return `scrub failed at ${status.finished_at ?? '?'} after ${checked}: ${status.error ?? 'no reason given'}`;
    case 'done':
      return [
        `scrub done at ${status.finished_at ?? '?'}: ${checked}; ${status.missing} missing, ${status.damaged} damaged, ${status.orphaned} orphaned`,
        ...status.findings.map(
          (finding) => `${finding.kind.padEnd(9)} ${finding.blake3}  ${formatBytes(finding.size)}`,
        ),
        ...(unlistedFindings > 0 ? [`… and ${unlistedFindings} more`] : []),
      ].join('\n');
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
