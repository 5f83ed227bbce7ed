import type { Response } from 'express';
import multer, { MulterError, type StorageEngine } from 'multer';
import { DataplaneError, RegistryError, type Registry, type StagedFile } from '@artifactstore/registry';
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

/**
 * Streams the `file` part of a multipart/form-data request into the dataplane as it arrives (multer with a
 * storage engine of our own: nothing is buffered whole, nothing lands in a temp folder of multer's). Text fields
 * sent after the file are only known once the form is complete, so the bytes are staged first and attached by
 * the caller. Filenames are read as UTF-8 (`defParamCharset`), not multer's default latin1.
 */
export async function receiveMultipartFile(
  registry: Registry,
  packageId: string,
  request: ApiRequest,
  response: Response,
  maxFileSize: number,
): Promise<MultipartFile> {
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
    _removeFile(_request, _file, callback) {
      // Staged bytes are content-addressed and may be shared; unattached ones are left for garbage collection.
      callback(null);
    },
  };
  const upload = multer({
    storage,
    defParamCharset: 'utf8',
    // No fileSize limit here: the dataplane enforces maxSize while it streams (SizeLimitExceededError, 413).
    limits: { files: 1, fields: 16, fieldSize: 64 * 1024, parts: 20 },
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
