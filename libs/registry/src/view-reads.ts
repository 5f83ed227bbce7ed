import type { Tx } from '@artifactstore/db';
import { FileNotFoundError, PackageNotFoundError, type PackageStatus } from './registry.errors.js';
import {
  FILE_SELECT,
  PACKAGE_SELECT,
  asStatus,
  toFileRecord,
  toPackageRecord,
  type FileRecord,
  type PackageRecord,
} from './records.js';

/** The package, or PackageNotFoundError. */
export async function requirePackage(tx: Tx, packageId: string): Promise<PackageRecord> {
  const [row] = await tx.query(`${PACKAGE_SELECT} WHERE p.id = ?`, [packageId]);
  if (!row) throw new PackageNotFoundError(packageId);
  return toPackageRecord(row);
}

/** The package's status, or PackageNotFoundError. */
export async function requirePackageStatus(tx: Tx, packageId: string): Promise<PackageStatus> {
  const [row] = await tx.query('SELECT status FROM artifact_packages WHERE id = ?', [packageId]);
  if (!row) throw new PackageNotFoundError(packageId);
  return asStatus(row.status);
}

/** The file, or FileNotFoundError. */
export async function requireFile(tx: Tx, fileId: string): Promise<FileRecord> {
  const [row] = await tx.query(`${FILE_SELECT} WHERE f.id = ?`, [fileId]);
  if (!row) throw new FileNotFoundError(fileId);
  return toFileRecord(row);
}
