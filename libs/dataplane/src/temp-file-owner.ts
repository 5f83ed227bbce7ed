import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isUuid } from '@artifactstore/codec';

/**
 * The process that writes a temp file, recorded in the file's name so that a starting server can tell the leftovers
 * of a dead predecessor (removed at once) from the temp file of another process's live ingest (kept). The name is
 * `<host>-<boot>-<pid>-<start>-<random>.tmp`:
 *
 * - `host`: 16 hex digits, the start of SHA-256 of the hostname. Containers sharing a volume have their own
 *   hostnames and pid namespaces, so a process judges only pids it can see. Not the pid namespace too: a restarted
 *   container gets a new one, and its predecessor's files must still count as this host's. Processes that share a
 *   hostname but not a pid namespace must therefore not share a data folder.
 * - `boot`: the kernel's boot id (`/proc/sys/kernel/random/boot_id`) without its dashes, 32 hex digits.
 * - `pid`: decimal.
 * - `start`: the process's start time in clock ticks after boot (field 22 of `/proc/<pid>/stat`), decimal: a later
 *   process given the same pid has another.
 * - `random`: 16 hex digits, so that one process's names never collide.
 *
 * Where /proc does not say all of this (not Linux), temp files are named `<uuid>.tmp` and only age removes them.
 */
export interface TempFileOwner {
  readonly host: string;
  readonly boot: string;
  readonly pid: number;
  readonly startTime: string;
}

const OWNER_NAME = /^([0-9a-f]{16})-([0-9a-f]{32})-([1-9][0-9]{0,9})-([0-9]{1,20})-[0-9a-f]{16}\.tmp$/;
/** Linux's largest pid_max; also keeps `process.kill` away from the meanings of 0 and negative pids. */
const MAX_PID = 1 << 22;

let thisProcess: { readonly owner: TempFileOwner | undefined } | undefined;

/** This process as temp file names record it, or undefined where /proc does not tell (read once, then kept). */
export function thisProcessOwner(): TempFileOwner | undefined {
  thisProcess ??= { owner: readThisProcess() };
  return thisProcess.owner;
}

function readThisProcess(): TempFileOwner | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const startTime = startTimeIn(readFileSync(`/proc/${process.pid}/stat`, 'utf8'));
    if (!isUuid(boot) || startTime === undefined) return undefined;
    return {
      host: createHash('sha256').update(hostname()).digest('hex').slice(0, 16),
      boot: boot.replaceAll('-', ''),
      pid: process.pid,
      startTime,
    };
  } catch {
    return undefined;
  }
}

/** A fresh temp file name of `owner`'s; `<uuid>.tmp` without one. */
export function tempFileName(owner: TempFileOwner | undefined): string {
  if (!owner) return `${randomUUID()}.tmp`;
  const random = randomBytes(8).toString('hex');
  return `${owner.host}-${owner.boot}-${owner.pid}-${owner.startTime}-${random}.tmp`;
}

/** The owner a temp file name records, or undefined for any other name. */
export function parseTempFileName(name: string): TempFileOwner | undefined {
  const match = OWNER_NAME.exec(name);
  if (!match) return undefined;
  const [, host = '', boot = '', pid = '', startTime = ''] = match;
  return Number(pid) <= MAX_PID ? { host, boot, pid: Number(pid), startTime } : undefined;
}

/**
 * Whether the process that named this temp file has certainly ended: it ran on this host and the machine has
 * rebooted since, or it ran in this boot and its pid is now free or taken by a later process.
 * False whenever that cannot be proven: another host, a live owner, a name that records none, no /proc.
 */
export async function tempFileOwnerIsGone(
  name: string,
  self: TempFileOwner | undefined = thisProcessOwner(),
): Promise<boolean> {
  const owner = parseTempFileName(name);
  if (!owner || !self || owner.host !== self.host) return false;
  if (owner.boot !== self.boot) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: the pid is running under another user; that process may be the owner still.
    if (codeOf(error) === 'ESRCH') return true;
    if (codeOf(error) !== 'EPERM') return false;
  }
  try {
    const started = await processStartTime(owner.pid);
    return started !== undefined && started !== owner.startTime;
  } catch (error) {
    // Gone between the two looks.
    return codeOf(error) === 'ENOENT';
  }
}

/** Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks after boot. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  return startTimeIn(await readFile(`/proc/${pid}/stat`, 'utf8'));
}

function startTimeIn(stat: string): string | undefined {
  // Field 2, the command in parentheses, may hold spaces and parentheses itself: count from the last ')'. The
  // fields after it start at field 3.
  const start = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .at(22 - 3);
  return start !== undefined && /^[0-9]{1,20}$/.test(start) ? start : undefined;
}

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown }).code;
}
