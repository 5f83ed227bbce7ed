import { blake3 } from '@artifactstore/codec';
import { runAdminJob } from './admin-jobs.js';
import { problemCodeOf, problemFault } from './problem-answers.js';
import { NoAnswer, StoreClient, type Reply } from './store-client.js';

/** A file a client meant to store: its path and the digest of the bytes it sent. */
export interface FileIntent {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly mediaType: string;
}

/**
 * Whether the server said yes. `acknowledged`: a 2xx came back, so it must be there. `unknown`: no answer, or a
 * 5xx that may have come after the commit (a connection lost during COMMIT), so it may or may not be there, but
 * if it is, it must be exactly what was sent. `refused`: a 4xx, so it must not be there.
 */
export type Outcome = 'acknowledged' | 'unknown' | 'refused';

interface PackageEntry {
  readonly id: string;
  readonly files: Map<string, { intent: FileIntent; outcome: Outcome }>;
  finalize: { outcome: Outcome | 'not asked'; contentAddress?: string };
}

/** What kind of request an answer was to, for the tally. */
export type RequestKind = 'create' | 'upload' | 'finalize' | 'read';

/** An answer no fault may produce (a 500, an unexpected status, a malformed problem), with what asked for it. */
export interface BadAnswer {
  readonly kind: RequestKind;
  readonly request: string;
  readonly status: number;
  readonly detail: string;
  readonly requestId?: string;
}

/**
 * What the clients of a fault test were told, and the check that the store agrees: every acknowledged package,
 * file and finalize is there, byte for byte; nothing refused is; no package is half-visible (a package is either
 * `created` with no manifest, or `finalized` with a manifest listing exactly its files, whose BLAKE3 is its
 * content address); the hash chain verifies and replay rebuilds the views unchanged.
 */
export class UploadLedger {
  private readonly packages = new Map<string, PackageEntry>();
  /** Creates that got no answer: a package we do not know may exist, but with no files. */
  unknownCreates = 0;
  readonly badAnswers: BadAnswer[] = [];
  /** Count of answers by `kind status` (and `kind no-answer`), for the report. */
  readonly tally = new Map<string, number>();

  /**
   * Statuses that are acceptable refusals besides the 2xx and the request's expected 4xx: a fault test under a
   * database outage allows 503 (with Retry-After) and 507 here.
   */
  constructor(private readonly toleratedStatuses: readonly number[] = []) {}

  /** Records an answer (or its absence); returns the outcome it implies. Bad answers are kept for the test. */
  note(
    kind: RequestKind,
    request: string,
    reply: Reply | NoAnswer,
    expected4xx: readonly string[] = [],
  ): Outcome {
    if (reply instanceof NoAnswer) {
      this.count(`${kind} no-answer`);
      return 'unknown';
    }
    this.count(`${kind} ${reply.status}`);
    if (reply.status >= 200 && reply.status < 300) return 'acknowledged';
    const fault = problemFault(reply);
    const code = problemCodeOf(reply.body);
    const requestId = reply.headers['x-request-id'];
    const bad = (status: number, detail: string): void => {
      this.badAnswers.push({
        kind,
        request,
        status,
        detail,
        ...(typeof requestId === 'string' ? { requestId } : {}),
      });
    };
    if (fault !== undefined) {
      bad(reply.status, fault);
    } else if (reply.status === 503 && reply.headers['retry-after'] === undefined) {
      bad(503, `503 ${code} without Retry-After`);
    } else if (reply.status >= 500 && !this.toleratedStatuses.includes(reply.status)) {
      bad(reply.status, `${code}: ${reply.body.toString()}`);
    } else if (reply.status < 500 && !expected4xx.includes(code ?? '')) {
      bad(reply.status, `${code}: ${reply.body.toString()}`);
    }
    return reply.status >= 500 ? 'unknown' : 'refused';
  }

  /** The request ids quoted by the bad answers, to find their lines in the server's log. */
  badAnswerRequestIds(): string[] {
    return this.badAnswers.flatMap((answer) => answer.requestId ?? []);
  }

  addPackage(id: string): void {
    this.packages.set(id, { id, files: new Map(), finalize: { outcome: 'not asked' } });
  }

  noteFile(packageId: string, intent: FileIntent, outcome: Outcome): void {
    const entry = this.entry(packageId);
    const earlier = entry.files.get(intent.path);
    // A retry of the same bytes: acknowledged once is acknowledged.
    if (earlier?.outcome === 'acknowledged') return;
    entry.files.set(intent.path, { intent, outcome });
  }

  noteFinalize(packageId: string, outcome: Outcome, contentAddress?: string): void {
    const entry = this.entry(packageId);
    if (entry.finalize.outcome === 'acknowledged') return;
    entry.finalize = { outcome, ...(contentAddress ? { contentAddress } : {}) };
  }

  /** How many files had this outcome. */
  filesWith(outcome: Outcome): number {
    return [...this.packages.values()].reduce(
      (sum, entry) => sum + [...entry.files.values()].filter((file) => file.outcome === outcome).length,
      0,
    );
  }

  /** Acknowledged files, to read back under load. */
  acknowledgedFiles(): { packageId: string; intent: FileIntent }[] {
    return [...this.packages.values()].flatMap((entry) =>
      [...entry.files.values()]
        .filter((file) => file.outcome === 'acknowledged')
        .map((file) => ({ packageId: entry.id, intent: file.intent })),
    );
  }

  summary(): string {
    const entries = [...this.packages.values()];
    const files = entries.flatMap((entry) => [...entry.files.values()]);
    const count = (outcome: Outcome): number => files.filter((file) => file.outcome === outcome).length;
    const finalized = entries.filter((entry) => entry.finalize.outcome === 'acknowledged').length;
    const tally = [...this.tally.entries()]
      .sort()
      .map(([key, value]) => `${key}: ${value}`)
      .join(', ');
    return (
      `${entries.length} packages acknowledged (${this.unknownCreates} creates unanswered), ${finalized} finalizes ` +
      `acknowledged; files: ${count('acknowledged')} acknowledged, ${count('unknown')} unknown, ` +
      `${count('refused')} refused; answers: ${tally}`
    );
  }

  /** Every way the store disagrees with the ledger, as readable lines (empty: it agrees). */
  async check(client: StoreClient): Promise<string[]> {
    const problems: string[] = [];
    const listed = await listAll<{ id: string; status: string; file_count: number }>(client, '/v1/packages');
    const listedIds = new Set(listed.map((pkg) => pkg.id));
    for (const pkg of listed) {
      if (this.packages.has(pkg.id)) continue;
      // A create that got no answer may have happened; nobody learned its id, so nothing was put in it.
      if (pkg.status !== 'created' || pkg.file_count !== 0) {
        problems.push(
          `package ${pkg.id} nobody was told about is ${pkg.status} with ${pkg.file_count} files`,
        );
      }
    }
    const unknownListed = listed.length - [...listedIds].filter((id) => this.packages.has(id)).length;
    if (unknownListed > this.unknownCreates) {
      problems.push(
        `${unknownListed} packages nobody was told about, but only ${this.unknownCreates} creates went unanswered`,
      );
    }
    for (const entry of this.packages.values()) {
      if (!listedIds.has(entry.id)) problems.push(`package ${entry.id} was acknowledged but is not listed`);
      problems.push(...(await this.checkPackage(client, entry)));
    }
    for (const kind of ['verify', 'replay'] as const) {
      try {
        const job = await runAdminJob(client.url, kind);
        const sound =
          job.kind === 'verify'
            ? job.result?.ok === true
            : job.result?.identical === true &&
              job.result.state_digest_before === job.result.state_digest_after;
        if (!sound) problems.push(`the ${kind} job: ${JSON.stringify(job)}`);
      } catch (error) {
        problems.push(`the ${kind} job: ${String(error)}`);
      }
    }
    return problems;
  }

  private async checkPackage(client: StoreClient, entry: PackageEntry): Promise<string[]> {
    const problems: string[] = [];
    const where = `package ${entry.id}`;
    const reply = await client.call('GET', `/v1/packages/${entry.id}`);
    const pkg = StoreClient.json<{
      status: string;
      file_count: number;
      total_size: number;
      content_address: string | null;
    }>(reply);
    if (reply.status !== 200 || pkg === undefined) return [`${where}: GET answered ${reply.status}`];
    const files = await listAll<{ relative_path: string; size: number; sha256: string; blake3: string }>(
      client,
      `/v1/packages/${entry.id}/files`,
    );
    const present = new Map(files.map((file) => [file.relative_path, file]));
    for (const [path, { intent, outcome }] of entry.files) {
      const stored = present.get(path);
      if (outcome === 'acknowledged' && stored === undefined)
        problems.push(`${where}: acknowledged ${path} is missing`);
      if (outcome === 'refused' && stored !== undefined) problems.push(`${where}: refused ${path} is there`);
      if (stored && (stored.size !== intent.size || stored.sha256 !== intent.sha256)) {
        problems.push(
          `${where}: ${path} is ${stored.size} bytes ${stored.sha256}, was sent as ${intent.size} ${intent.sha256}`,
        );
      }
    }
    for (const path of present.keys()) {
      if (!entry.files.has(path)) problems.push(`${where}: ${path} is listed but was never sent`);
    }
    const totalSize = files.reduce((sum, file) => sum + file.size, 0);
    if (pkg.file_count !== files.length || pkg.total_size !== totalSize) {
      problems.push(
        `${where}: says ${pkg.file_count} files, ${pkg.total_size} bytes; lists ${files.length}, ${totalSize}`,
      );
    }
    for (const file of files) {
      const download = await client.call(
        'GET',
        `/v1/packages/${entry.id}/files/${encodePath(file.relative_path)}`,
        {
          hash: true,
        },
      );
      if (
        download.status !== 200 ||
        !download.complete ||
        download.sha256 !== file.sha256 ||
        download.size !== file.size
      ) {
        problems.push(
          `${where}: download of ${file.relative_path}: ${download.status}, ${download.size} bytes, ` +
            `sha256 ${download.sha256}, complete ${download.complete}; expected ${file.size} bytes ${file.sha256}`,
        );
      }
    }
    if (entry.finalize.outcome === 'acknowledged') {
      if (pkg.status !== 'finalized')
        problems.push(`${where}: finalize was acknowledged, status is ${pkg.status}`);
      if (pkg.content_address !== entry.finalize.contentAddress) {
        problems.push(
          `${where}: content address ${pkg.content_address}, finalize said ${entry.finalize.contentAddress}`,
        );
      }
    }
    if (pkg.status === 'finalized') {
      problems.push(...(await checkManifest(client, where, entry.id, pkg.content_address, files)));
    } else {
      const manifest = await client.call('GET', `/v1/packages/${entry.id}/manifest`);
      if (manifest.status !== 409 || pkg.content_address !== null) {
        problems.push(
          `${where}: ${pkg.status} with content address ${pkg.content_address}, manifest ${manifest.status}`,
        );
      }
    }
    return problems;
  }

  private entry(packageId: string): PackageEntry {
    const entry = this.packages.get(packageId);
    if (!entry) throw new Error(`no package ${packageId} in the ledger`);
    return entry;
  }

  private count(key: string): void {
    this.tally.set(key, (this.tally.get(key) ?? 0) + 1);
  }
}

/** Prints the server's log lines of the ledger's bad answers (by request id), for the failure report. */
export function logBadAnswers(
  server: { linesMentioning(words: readonly string[]): string[] },
  ledger: UploadLedger,
): void {
  if (ledger.badAnswers.length === 0) return;
  const lines = server.linesMentioning(ledger.badAnswerRequestIds());
  console.log(`${ledger.badAnswers.length} bad answers; the server's log about them:\n${lines.join('\n')}`);
}

/** A finalized package's manifest lists exactly its files and hashes to its content address. */
async function checkManifest(
  client: StoreClient,
  where: string,
  id: string,
  contentAddress: string | null,
  files: readonly { relative_path: string; size: number; sha256: string; blake3: string }[],
): Promise<string[]> {
  const problems: string[] = [];
  const cbor = await client.call('GET', `/v1/packages/${id}/manifest`);
  if (cbor.status !== 200) return [`${where}: finalized, but its manifest answers ${cbor.status}`];
  const address = `blake3:${Buffer.from(blake3(cbor.body)).toString('hex')}`;
  if (address !== contentAddress)
    problems.push(`${where}: manifest hashes to ${address}, content address ${contentAddress}`);
  const json = await client.call('GET', `/v1/packages/${id}/manifest?format=json`);
  const manifest = StoreClient.json<{
    files?: { relative_path: string; size: number; sha256: string; blake3: string }[];
  }>(json);
  const listed = (manifest?.files ?? []).map(
    (file) => `${file.relative_path} ${file.size} ${file.sha256} ${file.blake3}`,
  );
  const stored = files.map((file) => `${file.relative_path} ${file.size} ${file.sha256} ${file.blake3}`);
  if (JSON.stringify([...listed].sort()) !== JSON.stringify([...stored].sort())) {
    problems.push(
      `${where}: manifest files ${JSON.stringify(listed)} differ from the package's ${JSON.stringify(stored)}`,
    );
  }
  return problems;
}

/** Every item of a paged list (`items` and `next_cursor`). */
async function listAll<T>(client: StoreClient, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null | undefined;
  do {
    const query = `limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const reply = await client.call('GET', `${path}?${query}`);
    const page = StoreClient.json<{ items: T[]; next_cursor: string | null }>(reply);
    if (reply.status !== 200 || page === undefined) {
      throw new Error(`GET ${path}: ${reply.status} ${reply.body.toString()}`);
    }
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/** A relative path as URL segments. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}
