import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry as MetricRegistry } from 'prom-client';
import {
  GarbageCollector,
  MirrorFollower,
  RuntimeStats,
  UnreferencedBlobs,
  type GcStats,
} from '@artifactstore/registry';
import type { RequestFacts } from './request-facts.js';
import { WaitingClients, type WaitingClientKind } from './waiting-clients.js';

/** Routes whose duration is an upload's (ingest) or a download's: the whole transfer, not just the handler. */
const INGEST_ROUTES = new Set(['PUT /v1/packages/:id/files/*path', 'POST /v1/packages/:id/files']);
const DOWNLOAD_ROUTES = new Set(['GET /v1/files/:id', 'GET /v1/packages/:id/files/*path']);
/** Seconds, from a small file on a fast disk to a large file over a slow link. */
const TRANSFER_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];
const WAITING_KINDS: readonly WaitingClientKind[] = ['long_poll', 'event_stream'];

/**
 * The Prometheus metrics of one server (its own registry, so that several apps in one process — the tests —
 * do not collide). Request metrics are labelled by route pattern and status only: no ids, no actors. Starts the
 * background scan for unreferenced blobs and the garbage collector's schedule when the app starts: only a server
 * needs them.
 */
@Injectable()
export class Metrics implements OnApplicationBootstrap {
  readonly registry = new MetricRegistry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly bytesReceived: Counter<'route'>;
  private readonly bytesSent: Counter<'route'>;
  private readonly ingestSeconds: Histogram<'status'>;
  private readonly downloadSeconds: Histogram<'status'>;

  constructor(
    runtimeStats: RuntimeStats,
    waitingClients: WaitingClients,
    private readonly unreferencedBlobs: UnreferencedBlobs,
    private readonly collector: GarbageCollector,
    mirror: MirrorFollower,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'artifactstore_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.bytesReceived = new Counter({
      name: 'artifactstore_http_received_bytes_total',
      help: 'Bytes read from clients (headers and bodies), by route pattern',
      labelNames: ['route'],
      registers,
    });
    this.bytesSent = new Counter({
      name: 'artifactstore_http_sent_bytes_total',
      help: 'Bytes written to clients (headers and bodies), by route pattern',
      labelNames: ['route'],
      registers,
    });
    this.ingestSeconds = new Histogram({
      name: 'artifactstore_ingest_duration_seconds',
      help: 'File uploads, from the request to the last byte of the answer, by status',
      labelNames: ['status'],
      buckets: TRANSFER_BUCKETS,
      registers,
    });
    this.downloadSeconds = new Histogram({
      name: 'artifactstore_download_duration_seconds',
      help: 'File downloads, from the request to the last byte sent, by status',
      labelNames: ['status'],
      buckets: TRANSFER_BUCKETS,
      registers,
    });
    new Counter({
      name: 'artifactstore_events_appended_total',
      help: 'Events this process appended to the log (committed)',
      registers,
      collect() {
        this.reset();
        this.inc(runtimeStats.snapshot().eventsAppended);
      },
    });
    new Gauge({
      name: 'artifactstore_event_tails_open',
      help: 'Tails of the event log open now (each long-poll and event stream holds one)',
      registers,
      collect() {
        this.set(runtimeStats.snapshot().openTails);
      },
    });
    new Gauge({
      name: 'artifactstore_waiting_clients',
      help: 'Requests held open waiting for events, by kind (long_poll, event_stream)',
      labelNames: ['kind'],
      registers,
      collect() {
        for (const kind of WAITING_KINDS) this.set({ kind }, waitingClients.count(kind));
      },
    });
    // NaN until the first scan has finished: a number would claim a count nobody has made yet.
    new Gauge({
      name: 'artifactstore_unreferenced_blobs',
      help:
        'Blobs in storage that no file refers to, at the last scan (NaN before the first): left by a crash ' +
        'between storing and committing, or an upload still in progress. The garbage collector removes them ' +
        'once older than ARTIFACTSTORE_GC_GRACE_SECONDS',
      registers,
      collect() {
        this.set(unreferencedBlobs.lastScan?.blobs ?? NaN);
      },
    });
    new Gauge({
      name: 'artifactstore_unreferenced_blob_bytes',
      help: 'Bytes of the blobs artifactstore_unreferenced_blobs counts, at the last scan (NaN before the first)',
      registers,
      collect() {
        this.set(unreferencedBlobs.lastScan?.bytes ?? NaN);
      },
    });
    new Gauge({
      name: 'artifactstore_unreferenced_blobs_scan_timestamp_seconds',
      help:
        'When the last scan for unreferenced blobs finished, in seconds since the epoch (NaN before the first; ' +
        'the server scans in the background at startup and every 6 hours)',
      registers,
      collect() {
        const finishedAt = unreferencedBlobs.lastScan?.finishedAt;
        this.set(finishedAt === undefined ? NaN : finishedAt / 1000);
      },
    });
    const gcCounter = (name: string, help: string, value: (stats: GcStats) => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(value(collector.stats));
        },
      });
    };
    gcCounter(
      'artifactstore_gc_runs_total',
      'Garbage collection runs finished (dry runs not counted)',
      (stats) => stats.runs,
    );
    gcCounter(
      'artifactstore_gc_expired_packages_total',
      'Packages the garbage collector expired (retention or abandoned)',
      (stats) => stats.expiredPackages,
    );
    gcCounter(
      'artifactstore_gc_collected_blobs_total',
      'Blobs the garbage collector removed from storage',
      (stats) => stats.collectedBlobs,
    );
    gcCounter(
      'artifactstore_gc_collected_bytes_total',
      'Bytes of the blobs the garbage collector removed',
      (stats) => stats.collectedBytes,
    );
    new Gauge({
      name: 'artifactstore_gc_last_run_duration_seconds',
      help: 'How long the last garbage collection run took (NaN before the first)',
      registers,
      collect() {
        const ms = collector.stats.lastDurationMs;
        this.set(ms === undefined ? NaN : ms / 1000);
      },
    });
    new Gauge({
      name: 'artifactstore_stored_bytes',
      help: 'Bytes of every blob in storage, as the last garbage collection run found them (NaN before the first)',
      registers,
      collect() {
        this.set(collector.stats.storedBytes ?? NaN);
      },
    });
    new Gauge({
      name: 'artifactstore_db_connections',
      help: 'Database connections: in_use now, max the pool may hold, waiting units of work',
      labelNames: ['state'],
      registers,
      collect() {
        const { inUse, max, waiting } = runtimeStats.snapshot().database;
        this.set({ state: 'in_use' }, inUse);
        this.set({ state: 'max' }, max);
        this.set({ state: 'waiting' }, waiting);
      },
    });
    new Counter({
      name: 'artifactstore_db_failures_total',
      help:
        'Units of work that failed because the database could not be reached or used (unavailable: ' +
        'answered 503) or was out of space (storage_full: answered 507)',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        const { failures } = runtimeStats.snapshot().database;
        this.inc({ kind: 'unavailable' }, failures.unavailable);
        this.inc({ kind: 'storage_full' }, failures.storage_full);
      },
    });
    if (mirror.enabled) this.registerMirror(mirror);
  }

  /** A mirror's progress: how far behind its source it is, and whether it stopped on a diverged log. */
  private registerMirror(mirror: MirrorFollower): void {
    const registers = [this.registry];
    new Gauge({
      name: 'artifactstore_mirror_lag_events',
      help: "Events the source has that this mirror has not applied yet (NaN before the source's head is known)",
      registers,
      collect() {
        this.set(mirror.status().lag_events ?? NaN);
      },
    });
    new Gauge({
      name: 'artifactstore_mirror_lag_seconds',
      help: 'How long ago the source committed the oldest event this mirror has not applied yet (0: caught up)',
      registers,
      collect() {
        this.set(mirror.status().lag_seconds);
      },
    });
    new Gauge({
      name: 'artifactstore_mirror_diverged',
      help: "1 when the source's log does not extend this mirror's and the mirror stopped, else 0",
      registers,
      collect() {
        this.set(mirror.status().state === 'diverged' ? 1 : 0);
      },
    });
    const counter = (name: string, help: string, read: (mirror: MirrorFollower) => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read(mirror));
        },
      });
    };
    counter(
      'artifactstore_mirror_events_copied_total',
      'Events copied from the source',
      (m) => m.totals.eventsCopied,
    );
    counter(
      'artifactstore_mirror_blobs_copied_total',
      'Blobs copied from the source',
      (m) => m.totals.blobsCopied,
    );
    counter(
      'artifactstore_mirror_blob_bytes_copied_total',
      'Bytes of the blobs copied from the source',
      (m) => m.totals.blobBytesCopied,
    );
  }

  onApplicationBootstrap(): void {
    this.unreferencedBlobs.scanInBackground();
    this.collector.schedule();
  }

  /** Counts a finished request. */
  record(facts: RequestFacts): void {
    // A response cut before its end (the client went away mid-upload) did not succeed, whatever status it set.
    const status = facts.aborted ? 'aborted' : String(facts.status);
    this.requests.inc({ method: facts.method, route: facts.route, status });
    this.bytesReceived.inc({ route: facts.route }, facts.bytesIn);
    this.bytesSent.inc({ route: facts.route }, facts.bytesOut);
    const key = `${facts.method} ${facts.route}`;
    if (INGEST_ROUTES.has(key)) this.ingestSeconds.observe({ status }, facts.durationMs / 1000);
    if (DOWNLOAD_ROUTES.has(key)) this.downloadSeconds.observe({ status }, facts.durationMs / 1000);
  }
}
