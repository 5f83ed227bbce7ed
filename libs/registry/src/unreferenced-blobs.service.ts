import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { BlobStore, type StoredBlob } from '@artifactstore/dataplane';
import { Database, asString } from '@artifactstore/db';

/** What one scan of the blob store found. */
export interface UnreferencedBlobsScan {
  /** Blobs in storage that no storage location names (by key, ADR 0018). */
  readonly blobs: number;
  readonly bytes: number;
  /** When the scan finished, in milliseconds since the epoch. */
  readonly finishedAt: number;
}

/** Keys checked against the database in one query. */
const BATCH_SIZE = 500;
/** Always BATCH_SIZE keys (a short batch repeats one), so that every batch runs the same statement. */
const REFERENCED_KEYS =
  'SELECT DISTINCT key FROM storage_locations WHERE key IN ' +
  `(${Array.from({ length: BATCH_SIZE }, () => '?').join(', ')})`;
/**
 * Blobs become unreferenced only when a process dies between storing the bytes and committing the file (or a
 * multipart upload's fields never arrive), and each restart scans; the rescan catches those of other processes on
 * shared storage, and clears a live upload counted mid-way.
 */
const RESCAN_INTERVAL_MS = 6 * 60 * 60 * 1000;

/**
 * Counts the blobs in storage that no file refers to: left by a crash between an ingest's write and its commit,
 * until garbage collection removes them. Walking the storage is expensive, so the server scans in the background
 * (`scanInBackground`) and metrics read the last result; nothing is deleted. A blob of an upload in progress is
 * not referenced yet either, so a scan may count it.
 */
@Injectable()
export class UnreferencedBlobs implements OnModuleDestroy {
  private readonly logger = new Logger('unreferenced-blobs');
  private readonly stopping = new AbortController();
  private last: UnreferencedBlobsScan | undefined;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly database: Database,
    private readonly blobStore: BlobStore,
  ) {}

  /** The last finished scan, or undefined before the first one finishes. */
  get lastScan(): UnreferencedBlobsScan | undefined {
    return this.last;
  }

  /**
   * Starts a scan now and every few hours, without waiting for it; one at a time. A failed scan is logged and
   * keeps the previous result.
   */
  scanInBackground(intervalMs = RESCAN_INTERVAL_MS): void {
    if (this.timer || this.stopping.signal.aborted) return;
    this.startScan();
    this.timer = setInterval(() => {
      this.startScan();
    }, intervalMs).unref();
  }

  /**
   * Walks the blob store once, checking its keys against the storage locations a batch at a time (never all keys
   * in memory), and keeps the result for `lastScan`.
   */
  async scan(): Promise<UnreferencedBlobsScan> {
    let blobs = 0;
    let bytes = 0;
    let batch: StoredBlob[] = [];
    const check = async (): Promise<void> => {
      this.stopping.signal.throwIfAborted();
      for (const blob of await this.unreferencedIn(batch)) {
        blobs++;
        bytes += blob.size;
      }
      batch = [];
    };
    for await (const blob of this.blobStore.listWithSizes()) {
      batch.push(blob);
      if (batch.length === BATCH_SIZE) await check();
    }
    if (batch.length > 0) await check();
    this.last = { blobs, bytes, finishedAt: Date.now() };
    return this.last;
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.timer);
    // The scan stops at its next batch; it must not query a database that is closing.
    await this.running;
  }

  private startScan(): void {
    if (this.running) return;
    this.running = this.scan()
      .then(
        ({ blobs, bytes }) => {
          if (blobs > 0) this.logger.log(`${blobs} blobs (${bytes} bytes) in storage belong to no file`);
        },
        (error: unknown) => {
          if (!this.stopping.signal.aborted)
            this.logger.warn(
              `could not count unreferenced blobs: ${error instanceof Error ? error.message : String(error)}`,
            );
        },
      )
      .finally(() => {
        this.running = undefined;
      });
  }

  private async unreferencedIn(batch: readonly StoredBlob[]): Promise<StoredBlob[]> {
    const keys = batch.map((blob) => blob.key);
    while (keys.length < BATCH_SIZE) keys.push(keys[0] ?? '');
    const rows = await this.database.read((tx) => tx.query(REFERENCED_KEYS, keys));
    const referenced = new Set(rows.map((row) => asString(row.key)));
    return batch.filter((blob) => !referenced.has(blob.key));
  }
}
