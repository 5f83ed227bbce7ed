import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileRecord, PackageRecord, Page, TagMove, TagRecord } from '@artifactstore/registry';
import { decodeManifest } from '@artifactstore/registry/rules';
import type {
  AdminJob,
  AdminJobKind,
  ArtifactClient,
  ConsistencyProofJson,
  EventJson,
  GcReport,
  JobStart,
  NewPackage,
  PackageQuery,
  PackageReceipt,
  ScrubStatus,
  TagMoved,
  Upload,
} from './artifact-client.js';
import { CliError, exitStatusOf } from './cli.errors.js';
import { uploadResumably } from './resumable-upload.js';

export interface HttpClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly token?: string;
  /** Connections kept open for reuse: as many as uploads or downloads run at once. */
  readonly maxSockets: number;
  /** Files larger than this many bytes go up by the tus protocol, resuming after a broken connection. */
  readonly resumableAbove?: number;
}

/** How long a `tail --follow` long-poll asks the server to wait (the server's limit is 60 s). */
const LONG_POLL_SECONDS = 30;

/**
 * A connection idle this long is closed by the client itself, before the 5 s that Node servers and many others
 * keep one (ours keeps 65 s and says so in `Keep-Alive: timeout=`, which Node's agent heeds as well).
 */
const IDLE_CONNECTION_MS = 4_000;

/** How a request on a kept-alive connection that the other side has closed fails, when nothing was answered. */
const CLOSED_CONNECTION_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE']);

/** Where and how send sends a request. */
interface RequestTarget {
  readonly method: string;
  /** The API path, as given to send (for messages). */
  readonly path: string;
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly signal: AbortSignal | undefined;
}

interface RequestOptions {
  readonly headers?: Record<string, string>;
  /** A stream body comes from a function that opens it, since a request may have to be sent twice (see send). */
  readonly body?: Buffer | (() => Readable);
  readonly signal?: AbortSignal;
}

/**
 * The HTTP API as an ArtifactClient, on node:http with a keep-alive agent: bodies are streamed both ways with
 * back-pressure, and Content-Length is ours to set (fetch would chunk a streamed upload). A request that finds its
 * kept-alive connection closed by the other side is sent again, once, on a new one.
 */
export class HttpArtifactClient implements ArtifactClient {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;

  constructor(private readonly options: HttpClientOptions) {
    try {
      this.base = new URL(options.url);
    } catch {
      throw new CliError('usage', `--url ${JSON.stringify(options.url)} is not a URL`);
    }
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new CliError('usage', `--url must be http:// or https://, not ${this.base.protocol}`);
    }
    this.transport = this.base.protocol === 'https:' ? https : http;
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, timeout: IDLE_CONNECTION_MS };
    this.agent =
      this.base.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  async createPackage(input: NewPackage, idempotencyKey?: string): Promise<PackageRecord> {
    const body = jsonBody(input);
    return this.json<PackageRecord>('POST', '/v1/packages', {
      ...body,
      headers: {
        ...body.headers,
        ...(idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey }),
      },
    });
  }

  async getPackage(packageId: string): Promise<PackageRecord> {
    return this.json<PackageRecord>('GET', `/v1/packages/${encodeURIComponent(packageId)}`);
  }

  async resolveContentAddress(address: string): Promise<PackageRecord> {
    // The API has no package-by-address route; the manifest names its package, and is checked by the caller.
    const manifest = await this.bytes('GET', `/v1/manifests/${encodeURIComponent(address)}`);
    return this.getPackage(decodeManifest(manifest).package.id);
  }

  async listPackages(query: PackageQuery): Promise<Page<PackageRecord>> {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) search.set(key, String(value));
    }
    const suffix = search.size > 0 ? `?${search.toString()}` : '';
    return this.json<Page<PackageRecord>>('GET', `/v1/packages${suffix}`);
  }

  async listFiles(packageId: string, cursor?: string): Promise<Page<FileRecord>> {
    const search = new URLSearchParams({ limit: '1000' });
    if (cursor !== undefined) search.set('cursor', cursor);
    return this.json<Page<FileRecord>>(
      'GET',
      `/v1/packages/${encodeURIComponent(packageId)}/files?${search.toString()}`,
    );
  }

  async uploadFile(packageId: string, upload: Upload): Promise<FileRecord> {
    const { resumableAbove } = this.options;
    if (resumableAbove !== undefined && upload.size > resumableAbove && upload.openFrom) {
      const openFrom = upload.openFrom.bind(upload);
      return uploadResumably(
        packageId,
        { ...upload, openFrom },
        { url: this.options.url, token: this.options.token, agent: this.agent },
      );
    }
    const path = upload.relativePath.split('/').map(encodeURIComponent).join('/');
    return this.json<FileRecord>('PUT', `/v1/packages/${encodeURIComponent(packageId)}/files/${path}`, {
      headers: {
        'Content-Type': upload.mediaType,
        'Content-Length': String(upload.size),
        'Content-Digest': `sha-256=:${Buffer.from(upload.sha256, 'hex').toString('base64')}:`,
        'X-Content-BLAKE3': upload.blake3,
      },
      body: () => upload.open(),
    });
  }

  async finalizePackage(packageId: string): Promise<{ readonly content_address: string }> {
    return this.json('POST', `/v1/packages/${encodeURIComponent(packageId)}/finalize`);
  }

  async getManifest(packageId: string): Promise<Buffer> {
    return this.bytes('GET', `/v1/packages/${encodeURIComponent(packageId)}/manifest`, {
      headers: { Accept: 'application/cbor' },
    });
  }

  async openFile(file: FileRecord): Promise<Readable> {
    return this.send('GET', `/v1/files/${encodeURIComponent(file.id)}`);
  }

  async *events(since: number, options: { follow: boolean; signal?: AbortSignal }): AsyncIterable<EventJson> {
    let cursor = since;
    for (;;) {
      if (options.signal?.aborted) return;
      const wait = options.follow ? LONG_POLL_SECONDS : 0;
      let page: { events: EventJson[]; next_since: number };
      try {
        page = await this.json('GET', `/v1/events?since=${cursor}&limit=1000&wait=${wait}`, {
          signal: options.signal,
        });
      } catch (error) {
        if (options.signal?.aborted) return;
        throw error;
      }
      yield* page.events;
      if (page.events.length === 0 && !options.follow) return;
      cursor = page.next_since;
    }
  }

  async deletePackage(packageId: string, reason: string | undefined): Promise<PackageRecord> {
    return this.json<PackageRecord>(
      'DELETE',
      `/v1/packages/${encodeURIComponent(packageId)}`,
      reason === undefined ? {} : jsonBody({ reason }),
    );
  }

  async holdPackage(packageId: string, reason: string | undefined): Promise<PackageRecord> {
    return this.json<PackageRecord>(
      'PUT',
      `/v1/packages/${encodeURIComponent(packageId)}/hold`,
      reason === undefined ? {} : jsonBody({ reason }),
    );
  }

  async releasePackage(packageId: string): Promise<PackageRecord> {
    return this.json<PackageRecord>('DELETE', `/v1/packages/${encodeURIComponent(packageId)}/hold`);
  }

  async changeRetention(packageId: string, retentionClass: string): Promise<PackageRecord> {
    return this.json<PackageRecord>(
      'PATCH',
      `/v1/packages/${encodeURIComponent(packageId)}`,
      jsonBody({ retention_class: retentionClass }),
    );
  }

  async collectGarbage(options: { readonly dryRun: boolean }): Promise<GcReport> {
    return this.json<GcReport>('POST', '/v1/admin/gc', jsonBody({ dry_run: options.dryRun }));
  }

  async startScrub(): Promise<ScrubStatus> {
    return this.json<ScrubStatus>('POST', '/v1/admin/scrub');
  }

  async scrubStatus(): Promise<ScrubStatus> {
    return this.json<ScrubStatus>('GET', '/v1/admin/scrub');
  }

  async moveTag(name: string, tag: string, packageRef: string): Promise<TagMoved> {
    const { status, body } = await this.answer('PUT', tagPath(name, tag), jsonBody({ package: packageRef }));
    return { tag: body as TagRecord, created: status === 201 };
  }

  async deleteTag(name: string, tag: string): Promise<void> {
    await this.bytes('DELETE', tagPath(name, tag));
  }

  async getTag(name: string, tag: string): Promise<TagRecord> {
    return this.json<TagRecord>('GET', tagPath(name, tag));
  }

  async listTags(name: string, cursor?: string): Promise<Page<TagRecord>> {
    return this.json<Page<TagRecord>>('GET', `/v1/tags/${encodeURIComponent(name)}?${pageQuery(cursor)}`);
  }

  async tagHistory(name: string, tag: string, cursor?: string): Promise<Page<TagMove>> {
    return this.json<Page<TagMove>>('GET', `${tagPath(name, tag)}/history?${pageQuery(cursor)}`);
  }

  async startJob(kind: AdminJobKind): Promise<JobStart> {
    try {
      return { job: await this.json<AdminJob>('POST', `/v1/admin/${kind}`), started: true };
    } catch (error) {
      // 409 job_running names the running job: answer that one.
      const running =
        error instanceof CliError && error.code === 'job_running' ? error.problem.job : undefined;
      if (typeof running !== 'string' || !running.startsWith('/v1/admin/jobs/')) throw error;
      return { job: await this.json<AdminJob>('GET', running), started: false };
    }
  }

  async getJob(jobId: string): Promise<AdminJob> {
    return this.json<AdminJob>('GET', `/v1/admin/jobs/${encodeURIComponent(jobId)}`);
  }

  async receipt(packageId: string, size?: number): Promise<PackageReceipt> {
    const query = size === undefined ? '' : `?size=${size}`;
    return this.json<PackageReceipt>('GET', `/v1/packages/${encodeURIComponent(packageId)}/receipt${query}`);
  }

  async logKey(): Promise<string> {
    const text = await this.bytes('GET', '/v1/log/key', { headers: { Accept: 'text/plain' } });
    return text.toString('utf8').trim();
  }

  async consistency(from: number, to: number): Promise<ConsistencyProofJson> {
    return this.json<ConsistencyProofJson>('GET', `/v1/log/consistency?from=${from}&to=${to}`);
  }

  close(): Promise<void> {
    this.agent.destroy();
    return Promise.resolve();
  }

  private async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return (await this.answer(method, path, options)).body as T;
  }

  /** A JSON answer with its status, for the routes whose 200 and 201 mean different things. */
  private async answer(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<{ status: number; body: unknown }> {
    const response = await this.send(method, path, {
      ...options,
      headers: { Accept: 'application/json', ...options.headers },
    });
    const body = await this.read(method, path, response);
    return { status: response.statusCode ?? 0, body: JSON.parse(body.toString('utf8')) as unknown };
  }

  private async bytes(method: string, path: string, options: RequestOptions = {}): Promise<Buffer> {
    return this.read(method, path, await this.send(method, path, options));
  }

  private async read(method: string, path: string, response: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of response) chunks.push(chunk as Buffer);
    } catch (error) {
      throw new CliError(
        'download_incomplete',
        `${method} ${path}: the response was cut short (${String(error)})`,
      );
    }
    return Buffer.concat(chunks);
  }

  /**
   * Sends a request; resolves with a 2xx response's body stream, or throws the problem as a CliError.
   *
   * A server or gateway closes a connection that sat idle in the pool when it likes; a request written on it just
   * then (or after our event loop was too busy to notice the close) fails with a reset or a broken pipe before any
   * byte of an answer, unread by the server. So such a failure on a reused connection is sent again, once, on a
   * new connection, its body reopened. Should the server have acted on it after all (it died before answering), a
   * repeated upload or finalize is refused, not applied twice (the path is taken, the package is final); a repeated
   * create carries the same Idempotency-Key (push sends one), so it answers the package the first one created; a
   * repeated tag move finds the tag already there. A failure after the answer began, or on a new connection, is
   * reported.
   */
  private async send(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    const url = new URL(
      path.replace(/^\//, ''),
      this.base.href.endsWith('/') ? this.base : `${this.base.href}/`,
    );
    const headers: Record<string, string> = { ...options.headers };
    if (this.options.token !== undefined) headers.Authorization = `Bearer ${this.options.token}`;
    if (options.body === undefined && method !== 'GET') headers['Content-Length'] = '0';
    if (Buffer.isBuffer(options.body)) headers['Content-Length'] = String(options.body.length);
    const { body, signal } = options;
    const exchange = (): Promise<IncomingMessage> =>
      this.exchange({ method, path, url, headers, signal }, typeof body === 'function' ? body() : body);
    try {
      return await exchange();
    } catch (error) {
      if (!(error instanceof ClosedIdleConnection)) throw this.failureOf(error);
      // The pool's other idle connections have sat there longer still: do not try them either.
      this.dropIdleConnections();
      try {
        return await exchange();
      } catch (again) {
        throw this.failureOf(again);
      }
    }
  }

  /** One attempt of send: throws a CliError for an answer that is not 2xx, ClosedIdleConnection, or the error. */
  private async exchange(
    target: RequestTarget,
    body: Buffer | Readable | undefined,
  ): Promise<IncomingMessage> {
    const { method, path, url, headers, signal } = target;
    const request = this.transport.request(url, { method, headers, agent: this.agent, signal });
    let connection: Socket | undefined;
    let bytesReadBefore = 0;
    request.once('socket', (socket: Socket) => {
      connection = socket;
      bytesReadBefore = socket.bytesRead;
    });
    const responded = new Promise<IncomingMessage>((resolve, reject) => {
      request.once('response', resolve);
      request.once('error', (error) => {
        const unanswered = request.reusedSocket && connection?.bytesRead === bytesReadBefore;
        reject(
          unanswered && CLOSED_CONNECTION_CODES.has(codeOf(error)) ? new ClosedIdleConnection(error) : error,
        );
      });
    });
    // The server may answer (a refusal) before the body is sent; the answer matters more than the broken pipe.
    const sent =
      body instanceof Readable
        ? pipeline(body, request)
        : new Promise<void>((resolve) => {
            request.end(body, resolve);
          });
    sent.catch(() => undefined);
    let response: IncomingMessage;
    try {
      response = await responded;
    } catch (error) {
      if (body instanceof Readable) body.destroy();
      throw error;
    }
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      await sent.catch((error: unknown) => {
        response.destroy();
        throw error;
      });
      return response;
    }
    if (body instanceof Readable) body.destroy();
    throw await problemOf(method, path, response);
  }

  private failureOf(error: unknown): CliError {
    if (error instanceof CliError) return error;
    return unreachable(this.base, error instanceof ClosedIdleConnection ? error.reason : error);
  }

  private dropIdleConnections(): void {
    for (const sockets of Object.values(this.agent.freeSockets)) {
      for (const socket of sockets ?? []) socket.destroy();
    }
  }
}

/** A tag's route: the name is one path segment, so its `/` is percent-encoded too. */
function tagPath(name: string, tag: string): string {
  return `/v1/tags/${encodeURIComponent(name)}/${encodeURIComponent(tag)}`;
}

function pageQuery(cursor: string | undefined): string {
  const search = new URLSearchParams({ limit: '1000' });
  if (cursor !== undefined) search.set('cursor', cursor);
  return search.toString();
}

function jsonBody(value: object): RequestOptions {
  return { headers: { 'Content-Type': 'application/json' }, body: Buffer.from(JSON.stringify(value)) };
}

/** A request failed on a reused connection, before any byte of an answer, as on one the other side had closed. */
class ClosedIdleConnection extends Error {
  constructor(readonly reason: unknown) {
    super('the kept-alive connection was closed');
  }
}

/** The error's `code` (ECONNRESET, …); not by `instanceof Error`, which fails for errors of another realm. */
function codeOf(error: unknown): string {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : '';
}

async function problemOf(method: string, path: string, response: IncomingMessage): Promise<CliError> {
  const status = response.statusCode ?? 0;
  let text = '';
  try {
    for await (const chunk of response) text += (chunk as Buffer).toString('utf8');
  } catch {
    // A refusal whose body was cut: the status still says what happened.
  }
  let code = `http_${status}`;
  let detail = `${method} ${path} answered ${status}`;
  let members: Record<string, unknown> = {};
  try {
    const problem = JSON.parse(text) as unknown;
    if (typeof problem === 'object' && problem !== null && !Array.isArray(problem)) {
      members = problem as Record<string, unknown>;
      if (typeof members.code === 'string') code = members.code;
      if (typeof members.detail === 'string') detail = members.detail;
    }
  } catch {
    // Not problem+json (a proxy's error page): keep the status.
  }
  return new CliError(code, detail, exitStatusOf(code, status), members);
}

function unreachable(base: URL, error: unknown): CliError {
  const reason = codeOf(error) || (error instanceof Error ? error.message : String(error));
  return new CliError('server_unreachable', `cannot reach ${base.origin}: ${reason}`);
}
