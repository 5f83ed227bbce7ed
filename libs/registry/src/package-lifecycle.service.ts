import { Injectable } from '@nestjs/common';
import { Database, asNumber, asString, type Row, type Tx } from '@artifactstore/db';
import { EventLog } from '@artifactstore/events';
import {
  ViewProjector,
  packageDeletedEvent,
  packageHeldEvent,
  packageReleasedEvent,
  packageRetentionChangedEvent,
} from '@artifactstore/views';
import { checkFilterText, checkId, checkLabel, checkReason } from './input-rules.js';
import { asStatus, type PackageRecord } from './records.js';
import {
  DeletionForbiddenError,
  IllegalPackageStateError,
  PackageHeldError,
  PackageNotFoundError,
  UnknownRetentionClassError,
  type PackageStatus,
} from './registry.errors.js';
import { requirePackage } from './view-reads.js';

/** Who may delete what: an admin any package that is not held; a producer only one still `created` (an abort). */
export type DeletionScope = 'any' | 'created';

/**
 * Removing packages by hand, holding them, and changing their retention class. Each command takes the log's append
 * lock before it reads the package, so the check and the event it allows see the same state (ADR 0006); each
 * answers with the package as it is after the event.
 */
@Injectable()
export class PackageLifecycle {
  constructor(
    private readonly database: Database,
    private readonly eventLog: EventLog,
    private readonly projector: ViewProjector,
  ) {}

  /** Appends `v1.package.deleted`: the package's files are no longer served and its blobs may be collected. */
  async deletePackage(
    packageId: string,
    reason: unknown,
    actor: string,
    scope: DeletionScope,
  ): Promise<PackageRecord> {
    checkId('package_id', packageId);
    const why = checkReason(reason);
    checkLabel('actor', actor);
    return this.database.write(async (tx) => {
      const pkg = await this.lockedPackage(tx, packageId);
      const status = asStatus(pkg.status);
      if (status === 'expired' || status === 'deleted') {
        throw new IllegalPackageStateError(packageId, status, 'delete');
      }
      if (scope === 'created' && status !== 'created') throw new DeletionForbiddenError(packageId, status);
      if (asNumber(pkg.held) === 1) throw new PackageHeldError(packageId, asString(pkg.hold_reason ?? ''));
      await this.projector.appendAndApply(tx, packageDeletedEvent(actor, packageId, { reason: why }));
      return requirePackage(tx, packageId);
    });
  }

  /**
   * Appends `v1.package.held`: the package neither expires nor can be deleted until released. Holding a held
   * package with the same reason changes nothing and appends nothing; with another reason it records the new one.
   */
  async holdPackage(packageId: string, reason: unknown, actor: string): Promise<PackageRecord> {
    checkId('package_id', packageId);
    const why = checkReason(reason);
    checkLabel('actor', actor);
    return this.database.write(async (tx) => {
      const pkg = await this.livePackage(tx, packageId, 'hold');
      if (asNumber(pkg.held) !== 1 || pkg.hold_reason !== why) {
        await this.projector.appendAndApply(tx, packageHeldEvent(actor, packageId, { reason: why }));
      }
      return requirePackage(tx, packageId);
    });
  }

  /** Appends `v1.package.released` when the package is held; releasing one that is not changes nothing. */
  async releasePackage(packageId: string, actor: string): Promise<PackageRecord> {
    checkId('package_id', packageId);
    checkLabel('actor', actor);
    return this.database.write(async (tx) => {
      const pkg = await this.livePackage(tx, packageId, 'release');
      if (asNumber(pkg.held) === 1)
        await this.projector.appendAndApply(tx, packageReleasedEvent(actor, packageId));
      return requirePackage(tx, packageId);
    });
  }

  /**
   * Appends `v1.package.retention_changed` with the class's ttl as the seed table has it now; the expiry is
   * recomputed from the finalization time. The same class again changes nothing.
   */
  async changeRetention(packageId: string, retentionClass: unknown, actor: string): Promise<PackageRecord> {
    checkId('package_id', packageId);
    const className = checkFilterText('retention_class', retentionClass);
    checkLabel('actor', actor);
    return this.database.write(async (tx) => {
      const pkg = await this.livePackage(tx, packageId, 'change the retention class of');
      const [retention] = await tx.query('SELECT ttl_days FROM retention_classes WHERE name = ?', [
        className,
      ]);
      if (!retention) {
        const known = await tx.query('SELECT name FROM retention_classes ORDER BY name');
        throw new UnknownRetentionClassError(
          className,
          known.map((row) => asString(row.name)),
        );
      }
      if (pkg.retention_class !== className) {
        const ttlDays = retention.ttl_days === null ? null : asNumber(retention.ttl_days);
        await this.projector.appendAndApply(
          tx,
          packageRetentionChangedEvent(actor, packageId, { retention_class: className, ttl_days: ttlDays }),
        );
      }
      return requirePackage(tx, packageId);
    });
  }

  private async lockedPackage(tx: Tx, packageId: string): Promise<Row> {
    await this.eventLog.lockAppends(tx);
    const [row] = await tx.query(
      'SELECT id, status, held, hold_reason, retention_class FROM artifact_packages WHERE id = ?',
      [packageId],
    );
    if (!row) throw new PackageNotFoundError(packageId);
    return row;
  }

  /** The package, under the append lock; IllegalPackageStateError once it expired or was deleted. */
  private async livePackage(tx: Tx, packageId: string, operation: string): Promise<Row> {
    const pkg = await this.lockedPackage(tx, packageId);
    const status: PackageStatus = asStatus(pkg.status);
    if (status === 'expired' || status === 'deleted')
      throw new IllegalPackageStateError(packageId, status, operation);
    return pkg;
  }
}
