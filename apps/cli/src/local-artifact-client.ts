import 'reflect-metadata';
import type { Readable } from 'node:stream';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type AppConfig, ConfigModule } from '@artifactstore/config';
import { DbModule } from '@artifactstore/db';
import {
  eventJson,
  JobRunningError,
  receiptJson,
  type FileRecord,
  type PackageRecord,
  type Page,
  Registry,
  RegistryModule,
  type TagMove,
  type TagRecord,
  TransparencyLog,
} from '@artifactstore/registry';
import type {
  AdminJob,
  AdminJobKind,
  ArtifactClient,
  ConsistencyProofJson,
  EventJson,
  GcReport,
  NewPackage,
  PackageQuery,
  JobStart,
  PackageReceipt,
  ScrubStatus,
  TagMoved,
  Upload,
} from './artifact-client.js';

/**
 * The actor of the events a `--local` command causes: the same name the server gives its local mode, whose
 * requests act as admins; so do `--local` commands, which own the data folder (a deletion's scope is `any`).
 */
export const LOCAL_ACTOR = 'local';

/**
 * The registry in this process (`--local`): a Nest application context with the config, the database and the
 * registry, on the configured database and data folder; no HTTP, and no server needed. Writes take the same
 * locks as the server's, so a server on the same database may run beside it.
 */
export class LocalArtifactClient implements ArtifactClient {
  private constructor(
    private readonly app: INestApplicationContext,
    private readonly registry: Registry,
    private readonly log: TransparencyLog,
  ) {}

  static async open(config: AppConfig): Promise<LocalArtifactClient> {
    @Module({ imports: [ConfigModule.forRoot(config), DbModule, RegistryModule] })
    class LocalCliModule {}
    const app = await NestFactory.createApplicationContext(LocalCliModule, { logger: false });
    return new LocalArtifactClient(app, app.get(Registry), app.get(TransparencyLog));
  }

  async createPackage(input: NewPackage, idempotencyKey?: string): Promise<PackageRecord> {
    if (idempotencyKey === undefined) return this.registry.createPackage(input, LOCAL_ACTOR);
    return (await this.registry.createPackageIdempotently(input, LOCAL_ACTOR, idempotencyKey)).package;
  }

  getPackage(packageId: string): Promise<PackageRecord> {
    return this.registry.getPackage(packageId);
  }

  resolveContentAddress(address: string): Promise<PackageRecord> {
    return this.registry.resolveContentAddress(address);
  }

  listPackages(query: PackageQuery): Promise<Page<PackageRecord>> {
    return this.registry.listPackages(query);
  }

  listFiles(packageId: string, cursor?: string): Promise<Page<FileRecord>> {
    return this.registry.listFiles(packageId, { limit: 1000, cursor });
  }

  uploadFile(packageId: string, upload: Upload): Promise<FileRecord> {
    return this.registry.ingestFile(
      packageId,
      upload.relativePath,
      upload.mediaType,
      upload.open(),
      LOCAL_ACTOR,
      {
        expectedSize: upload.size,
        expectedSha256: Buffer.from(upload.sha256, 'hex'),
        expectedBlake3: Buffer.from(upload.blake3, 'hex'),
      },
    );
  }

  finalizePackage(packageId: string): Promise<{ readonly content_address: string }> {
    return this.registry.finalizePackage(packageId, LOCAL_ACTOR);
  }

  async getManifest(packageId: string): Promise<Buffer> {
    return (await this.registry.getManifestBytes(packageId, 'cbor')).bytes;
  }

  openFile(file: FileRecord): Promise<Readable> {
    return this.registry.openFile(file);
  }

  async *events(since: number, options: { follow: boolean; signal?: AbortSignal }): AsyncIterable<EventJson> {
    if (options.follow) {
      for await (const event of this.registry.tailEvents(since, { signal: options.signal })) {
        yield eventJson(event);
      }
      return;
    }
    let cursor = since;
    for (;;) {
      const batch = await this.registry.listEvents(cursor, 1000);
      if (batch.length === 0) return;
      yield* batch.map((event) => eventJson(event));
      cursor = batch.at(-1)?.sequence ?? cursor;
    }
  }

  deletePackage(packageId: string, reason: string | undefined): Promise<PackageRecord> {
    return this.registry.deletePackage(packageId, reason, LOCAL_ACTOR, 'any');
  }

  holdPackage(packageId: string, reason: string | undefined): Promise<PackageRecord> {
    return this.registry.holdPackage(packageId, reason, LOCAL_ACTOR);
  }

  releasePackage(packageId: string): Promise<PackageRecord> {
    return this.registry.releasePackage(packageId, LOCAL_ACTOR);
  }

  changeRetention(packageId: string, retentionClass: string): Promise<PackageRecord> {
    return this.registry.changeRetention(packageId, retentionClass, LOCAL_ACTOR);
  }

  collectGarbage(options: { readonly dryRun: boolean }): Promise<GcReport> {
    return this.registry.collectGarbage({ dryRun: options.dryRun, actor: LOCAL_ACTOR });
  }

  /** The pass runs in this process: it ends when the client is closed (so `scrub --local` always waits). */
  startScrub(): Promise<ScrubStatus> {
    return Promise.resolve(this.registry.startScrub(LOCAL_ACTOR));
  }

  scrubStatus(): Promise<ScrubStatus> {
    return Promise.resolve(this.registry.scrubStatus());
  }

  moveTag(name: string, tag: string, packageRef: string): Promise<TagMoved> {
    return this.registry.moveTag(name, tag, packageRef, LOCAL_ACTOR);
  }

  deleteTag(name: string, tag: string): Promise<void> {
    return this.registry.deleteTag(name, tag, LOCAL_ACTOR);
  }

  getTag(name: string, tag: string): Promise<TagRecord> {
    return this.registry.getTag(name, tag);
  }

  listTags(name: string, cursor?: string): Promise<Page<TagRecord>> {
    return this.registry.listTags(name, { limit: 1000, cursor });
  }

  tagHistory(name: string, tag: string, cursor?: string): Promise<Page<TagMove>> {
    return this.registry.tagHistory(name, tag, { limit: 1000, cursor });
  }

  /** The job runs in this process, so it ends with it: the commands wait for it. */
  async startJob(kind: AdminJobKind): Promise<JobStart> {
    try {
      return { job: await this.registry.startJob(kind), started: true };
    } catch (error) {
      if (!(error instanceof JobRunningError)) throw error;
      return { job: this.registry.job(error.jobId), started: false };
    }
  }

  getJob(jobId: string): Promise<AdminJob> {
    // A refusal (an unknown id) rejects, as over HTTP.
    return new Promise((resolve) => {
      resolve(this.registry.job(jobId));
    });
  }

  /** The same fields as the HTTP API's receipt, bytes in base64, so a receipt reads the same from either side. */
  async receipt(packageId: string, size?: number): Promise<PackageReceipt> {
    return receiptJson(await this.log.receipt(packageId, size));
  }

  logKey(): Promise<string> {
    return Promise.resolve(this.log.verifierKey);
  }

  async consistency(from: number, to: number): Promise<ConsistencyProofJson> {
    const proof = await this.log.consistency(from, to);
    return { from: proof.from, to: proof.to, proof: proof.proof.map((hash) => hash.toString('base64')) };
  }

  close(): Promise<void> {
    return this.app.close();
  }
}
