import { setTimeout as sleep } from 'node:timers/promises';
import type { AdminJob, AdminJobKind } from '@artifactstore/registry';

/** A job of one kind, as `GET /v1/admin/jobs/{id}` answers it. */
export type AdminJobOf<K extends AdminJobKind> = Extract<AdminJob, { kind: K }>;

export interface AdminJobOptions {
  /** A bearer token (an admin's), when the server takes tokens. */
  readonly token?: string;
  /** How long to wait for the job to end (default 300 s). */
  readonly timeoutMs?: number;
}

const POLL_MS = 25;

/**
 * Starts a replay or verify job on the server at `url` (`POST /v1/admin/{kind}`, which must answer 202 with a
 * `Location`), then reads the job there until it is no longer running, and returns it as it ended. Throws, with
 * the server's answer, when the start is refused or the job runs past the timeout.
 */
export async function runAdminJob<K extends AdminJobKind>(
  url: string,
  kind: K,
  options: AdminJobOptions = {},
): Promise<AdminJobOf<K>> {
  const headers = headersOf(options);
  const started = await fetch(`${url}/v1/admin/${kind}`, { method: 'POST', headers });
  const location = started.headers.get('location');
  const body = await started.text();
  if (started.status !== 202 || location === null) {
    throw new Error(`POST /v1/admin/${kind}: ${started.status} ${body}`);
  }
  return (await waitForAdminJob(url, location, options)) as AdminJobOf<K>;
}

/** Reads the job at `location` (`/v1/admin/jobs/{id}`) on the server at `url` until it is no longer running. */
export async function waitForAdminJob(
  url: string,
  location: string,
  options: AdminJobOptions = {},
): Promise<AdminJob> {
  const headers = headersOf(options);
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
  for (;;) {
    const answer = await fetch(`${url}${location}`, { headers });
    const text = await answer.text();
    if (answer.status !== 200) throw new Error(`GET ${location}: ${answer.status} ${text}`);
    const job = JSON.parse(text) as AdminJob;
    if (job.state !== 'running') return job;
    if (Date.now() > deadline) throw new Error(`${location} still running: ${text}`);
    await sleep(POLL_MS);
  }
}

function headersOf(options: AdminJobOptions): Record<string, string> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  return headers;
}

/** Like runAdminJob, for a job expected to succeed: its result; throws with the job when it failed. */
export async function adminJobResult<K extends AdminJobKind>(
  url: string,
  kind: K,
  options: AdminJobOptions = {},
): Promise<NonNullable<AdminJobOf<K>['result']>> {
  const job = await runAdminJob(url, kind, options);
  if (job.state !== 'succeeded' || job.result === null) {
    throw new Error(`the ${kind} job failed: ${JSON.stringify(job)}`);
  }
  return job.result as NonNullable<AdminJobOf<K>['result']>;
}
