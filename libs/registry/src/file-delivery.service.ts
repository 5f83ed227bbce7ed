import type { Readable, Writable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { BlobStore, type OpenOptions } from '@artifactstore/dataplane';
import { Database, asString, type Tx } from '@artifactstore/db';
import { asStatus, type FileRecord } from './records.js';
import { FileNotFoundError, PackageGoneError } from './registry.errors.js';

/** What sending a file did, as the blob store reports it. */
export type SendResult = Awaited<ReturnType<BlobStore['send']>>;

/** Delivering files' bytes from this server's blob store, verified as the store verifies them. */
@Injectable()
export class FileDelivery {
  constructor(
    private readonly database: Database,
    private readonly blobStore: BlobStore,
  ) {}

  /** The bytes of a file: all of them (BLAKE3-verified as they stream), or the inclusive range asked for. */
  async openFile(file: FileRecord, range: OpenOptions = {}): Promise<Readable> {
    return this.blobStore.open(await this.storageKey(file), range);
  }

  /**
   * Writes the bytes `openFile` gives to `destination` and ends it (`BlobStore.send`: verified the same way), and
   * reports what it did; after a failure the destination is left to the caller.
   */
  async sendFile(file: FileRecord, destination: Writable, range: OpenOptions = {}): Promise<SendResult> {
    return this.blobStore.send(await this.storageKey(file), destination, range);
  }

  /** PackageGoneError when the file's package expired or was deleted: checked before any header goes out. */
  async checkDeliverable(file: FileRecord): Promise<void> {
    await this.database.read((tx) => checkNotGone(tx, file.package_id));
  }

  /**
   * The key under which this server's blob store keeps a file's bytes: the key of its storage location, whichever
   * backend the log names there (a mirror may store on another, ADR 0018). The file of a package that expired or was
   * deleted is PackageGoneError, even while its bytes are still stored (another package may share them).
   */
  private async storageKey(file: FileRecord): Promise<string> {
    return this.database.read(async (tx) => {
      await checkNotGone(tx, file.package_id);
      const [location] = await tx.query('SELECT key FROM storage_locations WHERE file_id = ? LIMIT 1', [
        file.id,
      ]);
      if (!location) throw new FileNotFoundError(`${file.id}: its bytes were collected`);
      return asString(location.key);
    });
  }
}

async function checkNotGone(tx: Tx, packageId: string): Promise<void> {
  const [pkg] = await tx.query('SELECT status FROM artifact_packages WHERE id = ?', [packageId]);
  const status = asStatus(pkg?.status);
  if (status === 'expired' || status === 'deleted') throw new PackageGoneError(packageId, status);
}
