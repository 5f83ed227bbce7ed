import { RegistryError } from './registry.errors.js';

/** No such upload of this package, or one of another actor's (not told apart, so that ids cannot be probed). */
export class UploadNotFoundError extends RegistryError {
  readonly code = 'upload_not_found';
  override readonly name = 'UploadNotFoundError';

  constructor(readonly uploadId: string) {
    super(`upload ${uploadId} does not exist`);
  }
}

/** The upload was left unfinished past ARTIFACTSTORE_UPLOAD_EXPIRY_HOURS; its bytes are removed. */
export class UploadExpiredError extends RegistryError {
  readonly code = 'upload_expired';
  override readonly name = 'UploadExpiredError';

  constructor(readonly uploadId: string) {
    super(`upload ${uploadId} expired and was removed`);
  }
}

/** A PATCH must start where the staged bytes end (tus: 409). */
export class UploadOffsetMismatchError extends RegistryError {
  readonly code = 'upload_offset_mismatch';
  override readonly name = 'UploadOffsetMismatchError';

  constructor(
    readonly uploadId: string,
    readonly expected: number,
    readonly given: number,
  ) {
    super(`upload ${uploadId} continues at offset ${expected}, not ${given}`);
  }
}

/** Another request of this process is writing to the upload right now. */
export class UploadBusyError extends RegistryError {
  readonly code = 'upload_busy';
  override readonly name = 'UploadBusyError';

  constructor(readonly uploadId: string) {
    super(`upload ${uploadId} is taking bytes from another request`);
  }
}

/** The bytes of a PATCH do not match its Upload-Checksum; they were discarded (tus: 460). */
export class ChecksumMismatchError extends RegistryError {
  readonly code = 'checksum_mismatch';
  override readonly name = 'ChecksumMismatchError';

  constructor(
    readonly algorithm: string,
    readonly uploadId: string,
  ) {
    super(`the ${algorithm} of this request's bytes does not match Upload-Checksum; they were discarded`);
  }
}
