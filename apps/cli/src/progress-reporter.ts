/** Where progress goes: process.stderr, or a stand-in in tests. */
export interface ProgressSink {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

const REDRAW_MS = 100;
const BAR_WIDTH = 24;

/**
 * Progress of a transfer. On a terminal, one line redrawn in place (`\r`): a bar, files, bytes, rate and ETA. On
 * anything else (a CI log, a pipe), one plain line per finished file, so logs stay readable. `quiet` says nothing
 * (`--json`, where stdout is for the machine and stderr for errors only).
 */
export class ProgressReporter {
  private filesDone = 0;
  private bytesDone = 0;
  private lastDraw = 0;
  private readonly started = Date.now();
  private readonly tty: boolean;

  constructor(
    private readonly verb: string,
    private readonly totalFiles: number,
    private readonly totalBytes: number,
    private readonly sink: ProgressSink = process.stderr,
    private readonly quiet = false,
    private readonly now: () => number = Date.now,
  ) {
    this.tty = sink.isTTY === true && !quiet;
  }

  /** Bytes moved (called as chunks flow). */
  bytes(count: number): void {
    this.bytesDone += count;
    this.draw(false);
  }

  /** A file done; `skipped` files (a resumed push) count toward the totals but were not transferred. */
  fileDone(relativePath: string, size: number, skipped = false): void {
    this.filesDone += 1;
    if (this.tty) {
      this.draw(true);
    } else if (!this.quiet) {
      this.sink.write(`${skipped ? 'skipped' : this.verb} ${relativePath} (${formatBytes(size)})\n`);
    }
  }

  /** Counts bytes of a file skipped without transfer. */
  skippedBytes(count: number): void {
    this.bytesDone += count;
  }

  /** Ends the bar's line; call once when the transfer is over (or failed). */
  finish(): void {
    if (this.tty) {
      this.draw(true);
      this.sink.write('\n');
    }
  }

  private draw(force: boolean): void {
    if (!this.tty) return;
    const now = this.now();
    if (!force && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const fraction =
      this.totalBytes > 0 ? this.bytesDone / this.totalBytes : this.filesDone / Math.max(1, this.totalFiles);
    const filled = Math.min(BAR_WIDTH, Math.round(fraction * BAR_WIDTH));
    const seconds = Math.max(0.001, (now - this.started) / 1000);
    const rate = this.bytesDone / seconds;
    const eta = rate > 0 ? (this.totalBytes - this.bytesDone) / rate : Number.POSITIVE_INFINITY;
    const line =
      `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ` +
      `${this.filesDone}/${this.totalFiles} files  ${formatBytes(this.bytesDone)}/${formatBytes(this.totalBytes)}  ` +
      `${formatBytes(rate)}/s  ETA ${formatDuration(eta)}`;
    // A terminal whose size nobody set (`script`, some CI runners, `docker run -t`) reports 0 columns.
    const columns = this.sink.columns ?? 0;
    const width = columns > 0 ? columns : 100;
    this.sink.write(`\r${line.slice(0, width - 1).padEnd(Math.min(width - 1, line.length + 2))}`);
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  // Rounded: a rate below 1 KiB/s is a fraction of bytes.
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit] ?? ''}`;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const whole = Math.ceil(seconds);
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes}m${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
