import type { Readable, Writable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import type { ByteSource, OpenOptions } from '@artifactstore/dataplane';
import type { ChainVerification, Event, TailOptions } from '@artifactstore/events';
import type { AdminJob, AdminJobKind } from './admin-job.js';
import { AdminJobs } from './admin-jobs.service.js';
import { BlobScrubber, type ScrubStatus } from './blob-scrubber.service.js';
import { FileDelivery, type SendResult } from './file-delivery.service.js';
import { GarbageCollector, type GcOptions, type GcReport } from './garbage-collector.service.js';
import { LogOperations, type ReplayReport } from './log-operations.service.js';
import {
  PackageCommands,
  type CreatedPackage,
  type CreatePackageInput,
  type FinalizeResult,
  type IngestFileOptions,
  type StagedFile,
} from './package-commands.service.js';
import { PackageLifecycle, type DeletionScope } from './package-lifecycle.service.js';
import {
  PackageQueries,
  type ManifestBytes,
  type ManifestFormat,
  type PackageFilter,
  type PageRequest,
} from './package-queries.service.js';
import type { Page } from './page-cursor.js';
import type { FileRecord, PackageRecord } from './records.js';
import { Tags, type TagMove, type TagMoveResult, type TagRecord } from './tags.service.js';

/**
 * The one door the HTTP API and the CLI use. It only delegates, to the service that does each job: writing
 * packages (PackageCommands), removing, holding and re-classing them (PackageLifecycle), reading the views
 * (PackageQueries), delivering files' bytes (FileDelivery), the log as clients and operators meet it
 * (LogOperations), expiry and garbage collection (GarbageCollector), the scrub (BlobScrubber), and the background
 * replay and verify jobs (AdminJobs).
 */
@Injectable()
export class Registry {
  constructor(
    private readonly commands: PackageCommands,
    private readonly queries: PackageQueries,
    private readonly delivery: FileDelivery,
    private readonly log: LogOperations,
    private readonly lifecycle: PackageLifecycle,
    private readonly collector: GarbageCollector,
    private readonly tags: Tags,
    private readonly scrubber: BlobScrubber,
    private readonly adminJobs: AdminJobs,
  ) {}

  createPackage(input: CreatePackageInput, actor: string): Promise<PackageRecord> {
    return this.commands.createPackage(input, actor);
  }

  createPackageIdempotently(
    input: CreatePackageInput,
    actor: string,
    idempotencyKey: string,
  ): Promise<CreatedPackage> {
    return this.commands.createPackageIdempotently(input, actor, idempotencyKey);
  }

  ingestFile(
    packageId: string,
    relativePath: string,
    mediaType: string | undefined,
    source: ByteSource,
    actor: string,
    options?: IngestFileOptions,
  ): Promise<FileRecord> {
    return this.commands.ingestFile(packageId, relativePath, mediaType, source, actor, options);
  }

  stageFile(packageId: string, source: ByteSource, options?: IngestFileOptions): Promise<StagedFile> {
    return this.commands.stageFile(packageId, source, options);
  }

  attachFile(
    packageId: string,
    relativePath: string,
    mediaType: string | undefined,
    staged: StagedFile,
    actor: string,
  ): Promise<FileRecord> {
    return this.commands.attachFile(packageId, relativePath, mediaType, staged, actor);
  }

  finalizePackage(packageId: string, actor: string): Promise<FinalizeResult> {
    return this.commands.finalizePackage(packageId, actor);
  }

  getPackage(packageId: string): Promise<PackageRecord> {
    return this.queries.getPackage(packageId);
  }

  listPackages(filter?: PackageFilter): Promise<Page<PackageRecord>> {
    return this.queries.listPackages(filter);
  }

  resolveContentAddress(address: string): Promise<PackageRecord> {
    return this.queries.resolveContentAddress(address);
  }

  listFiles(packageId: string, page?: PageRequest): Promise<Page<FileRecord>> {
    return this.queries.listFiles(packageId, page);
  }

  getManifestBytes(ref: string, format?: ManifestFormat): Promise<ManifestBytes> {
    return this.queries.getManifestBytes(ref, format);
  }

  findFile(fileId: string): Promise<FileRecord> {
    return this.queries.findFile(fileId);
  }

  findFileByPath(packageId: string, relativePath: string): Promise<FileRecord> {
    return this.queries.findFileByPath(packageId, relativePath);
  }

  openFile(file: FileRecord, range?: OpenOptions): Promise<Readable> {
    return this.delivery.openFile(file, range);
  }

  checkDeliverable(file: FileRecord): Promise<void> {
    return this.delivery.checkDeliverable(file);
  }

  sendFile(file: FileRecord, destination: Writable, range?: OpenOptions): Promise<SendResult> {
    return this.delivery.sendFile(file, destination, range);
  }

  listEvents(since: number, limit: number): Promise<Event[]> {
    return this.log.listEvents(since, limit);
  }

  tailEvents(since: number, options?: TailOptions): AsyncIterable<Event> {
    return this.log.tailEvents(since, options);
  }

  tailEventBatches(since: number, options?: TailOptions): AsyncIterable<Event[]> {
    return this.log.tailEventBatches(since, options);
  }

  headSequence(): Promise<number> {
    return this.log.headSequence();
  }

  checkReadiness(): Promise<number> {
    return this.log.checkReadiness();
  }

  replayViews(): Promise<ReplayReport> {
    return this.log.replayViews();
  }

  verifyChain(): Promise<ChainVerification> {
    return this.log.verifyChain();
  }

  /** Starts a replay or verify job in the background; JobRunningError while one runs in this process. */
  startJob(kind: AdminJobKind): Promise<AdminJob> {
    return this.adminJobs.start(kind);
  }

  /** A running or recently finished job; JobNotFoundError otherwise. */
  job(id: string): AdminJob {
    return this.adminJobs.job(id);
  }

  /** The running job and the recently finished ones, newest first. */
  jobs(): AdminJob[] {
    return this.adminJobs.jobs();
  }

  discardStaged(staged: StagedFile): Promise<void> {
    return this.commands.discardStaged(staged);
  }

  deletePackage(
    packageId: string,
    reason: unknown,
    actor: string,
    scope: DeletionScope,
  ): Promise<PackageRecord> {
    return this.lifecycle.deletePackage(packageId, reason, actor, scope);
  }

  holdPackage(packageId: string, reason: unknown, actor: string): Promise<PackageRecord> {
    return this.lifecycle.holdPackage(packageId, reason, actor);
  }

  releasePackage(packageId: string, actor: string): Promise<PackageRecord> {
    return this.lifecycle.releasePackage(packageId, actor);
  }

  changeRetention(packageId: string, retentionClass: unknown, actor: string): Promise<PackageRecord> {
    return this.lifecycle.changeRetention(packageId, retentionClass, actor);
  }

  collectGarbage(options: GcOptions): Promise<GcReport> {
    return this.collector.run(options);
  }

  /** Starts a scrub pass unless one is running in this process; answers the status either way. */
  startScrub(actor: string): ScrubStatus {
    return this.scrubber.start(actor);
  }

  scrubStatus(): ScrubStatus {
    return this.scrubber.status;
  }

  moveTag(name: string, tag: string, packageRef: unknown, actor: string): Promise<TagMoveResult> {
    return this.tags.moveTag(name, tag, packageRef, actor);
  }

  deleteTag(name: string, tag: string, actor: string): Promise<void> {
    return this.tags.deleteTag(name, tag, actor);
  }

  getTag(name: string, tag: string): Promise<TagRecord> {
    return this.tags.getTag(name, tag);
  }

  listTags(name: string, page: PageRequest = {}): Promise<Page<TagRecord>> {
    return this.tags.listTags(name, page);
  }

  tagHistory(name: string, tag: string, page: PageRequest = {}): Promise<Page<TagMove>> {
    return this.tags.tagHistory(name, tag, page);
  }
}
