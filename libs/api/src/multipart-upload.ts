import type { Response } from 'express';
import multer, { MulterError, type StorageEngine } from 'multer';
import {
  DataplaneError,
  IllegalPackageStateError,
  RegistryError,
  type Registry,
  type StagedFile,
} from '@artifactstore/registry';
import { HttpProblem } from './problem.js';
import type { ApiRequest } from './principal.js';

/** What a multipart upload delivered: the staged bytes, the part's own name and type, and the text fields. */
export interface MultipartFile {
  readonly staged: StagedFile;
  readonly filename: string;
  readonly mimetype: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

interface StagedPart {
  staged?: StagedFile;
}

const FORM_LIMITS = { files: 1, fields: 16, fieldSize: 64 * 1024, parts: 20 } as const;
/** How much of one part's headers busboy reads at most. */
const PART_HEADER_BYTES = 16 * 1024;
/** A delimiter line: CRLF, `--`, a boundary of at most 70 characters (RFC 2046), `--` on the last, CRLF. */
const DELIMITER_BYTES = 80;
/**
 * The most a form within FORM_LIMITS can add around its file: every field at its largest, and every part's
 * headers and delimiter. A declared Content-Length beyond ARTIFACTSTORE_MAX_FILE_SIZE plus this cannot be a
 * form we would take.
 */
const MULTIPART_OVERHEAD_BYTES =
  FORM_LIMITS.fields * FORM_LIMITS.fieldSize +
  (FORM_LIMITS.parts + 1) * (PART_HEADER_BYTES + DELIMITER_BYTES);

/**
 * Streams the `file` part of a multipart/form-data request into the dataplane as it arrives (multer with a
 * storage engine of our own: nothing is buffered whole, nothing lands in a temp folder of multer's). Text fields
 * sent after the file are only known once the form is complete, so the bytes are staged first and attached by
 * the caller. Filenames are read as UTF-8 (`defParamCharset`), not multer's default latin1. A request that is
 * sure to be refused (refuseBeforeReading) is refused before its body is read.
 */
export async function receiveMultipartFile(
  registry: Registry,
  packageId: string,
  request: ApiRequest,
  response: Response,
  maxFileSize: number,
): Promise<MultipartFile> {
  await refuseBeforeReading(registry, packageId, request, maxFileSize);
  // When staging fails (the file is too large, the digest is wrong), the part's stream is destroyed on the way out
  // and multer may hear of that AbortError first; the staging error is the one that says what happened.
  let stagingError: unknown;
  const storage: StorageEngine = {
    _handleFile(_request, file, callback) {
      // destroyOnReturn: false — when staging stops early (too large), the part must not be destroyed: multer
      // would report that AbortError instead of ours. It is drained below so that the form can finish.
      const chunks = file.stream.iterator({ destroyOnReturn: false });
      registry.stageFile(packageId, chunks, { maxSize: maxFileSize }).then(
        (staged) => {
          callback(null, { staged, size: staged.size } as Partial<Express.Multer.File>);
        },
        (error: unknown) => {
          stagingError = error;
          // Drain what is left of the part, so that busboy can finish the form and multer can report the error.
          file.stream.resume();
          callback(error);
        },
      );
    },
    _removeFile(_request, file, callback) {
      // The form failed after its file: the stored blob is left for garbage collection, the staging copy goes now.
      const staged = (file as Partial<StagedPart>).staged;
      if (!staged) {
        callback(null);
        return;
      }
      registry.discardStaged(staged).then(
        () => {
          callback(null);
        },
        (error: unknown) => {
          callback(toError(error));
        },
      );
    },
  };
  const upload = multer({
    storage,
    defParamCharset: 'utf8',
    // No fileSize limit here: the dataplane enforces maxSize while it streams (SizeLimitExceededError, 413).
    limits: FORM_LIMITS,
  }).single('file');
  await new Promise<void>((resolve, reject) => {
    upload(request, response, (error: unknown) => {
      if (error) reject(toError(stagingError ?? error));
      else resolve();
    });
  });
  const file: (Express.Multer.File & StagedPart) | undefined = request.file;
  if (!file?.staged) {
    throw new HttpProblem(
      'invalid_input',
      'send the file as the multipart/form-data part named "file"',
      {},
      {
        field: 'file',
      },
    );
  }
  return {
    staged: file.staged,
    filename: file.originalname,
    mimetype: file.mimetype,
    fields: formFields(request),
  };
}

/**
 * What can be refused before a byte of the body is read: a declared length no form of an allowed file reaches, a
 * package that does not exist or takes no more files. The client is answered at once (with `Connection: close`,
 * by the ProblemFilter, as the body is unread) instead of after sending it all. The registry checks the package
 * again when it stages and when it attaches: this is the early answer, not the guarantee.
 */
async function refuseBeforeReading(
  registry: Registry,
  packageId: string,
  request: ApiRequest,
  maxFileSize: number,
): Promise<void> {
  const declared = Number(request.headers['content-length']);
  if (declared > maxFileSize + MULTIPART_OVERHEAD_BYTES) {
    throw new HttpProblem(
      'size_limit_exceeded',
      `files are limited to ${maxFileSize} bytes, and a form to ${MULTIPART_OVERHEAD_BYTES} bytes more`,
    );
  }
  const pkg = await registry.getPackage(packageId);
  if (pkg.status !== 'created') throw new IllegalPackageStateError(packageId, pkg.status, 'add a file');
}

function toError(error: unknown): Error {
  if (error instanceof RegistryError || error instanceof DataplaneError || error instanceof HttpProblem)
    return error;
  // Anything else is busboy or multer refusing the body itself (no boundary, a truncated form): the client's fault.
  if (!(error instanceof MulterError)) {
    return new HttpProblem(
      'invalid_input',
      `malformed multipart form: ${error instanceof Error ? error.message : String(error)}`,
      {},
      {
        field: 'body',
      },
    );
  }
  if (error.code === 'LIMIT_FILE_SIZE')
    return new HttpProblem('size_limit_exceeded', 'the file is too large');
  const field = error.field ?? 'file';
  return new HttpProblem('invalid_input', `multipart form: ${error.message}`, {}, { field });
}

/** multer puts the text fields on `request.body` (untyped there). */
function formFields(request: ApiRequest): Readonly<Record<string, unknown>> {
  const body: unknown = request.body;
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
}
