import {
  Controller,
  Delete,
  Head,
  HttpCode,
  type OnApplicationBootstrap,
  Options,
  Param,
  Patch,
  Post,
  Req,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AppConfig } from '@artifactstore/config';
import { ResumableUploads, type ChunkChecksum, type UploadStatus } from '@artifactstore/registry';
import { ApiProblems } from './api-problems.decorator.js';
import { Actor, type ApiRequest } from './principal.js';
import { HttpProblem } from './problem.js';
import { ANY_ROLE, Roles, WRITERS } from './auth.guard.js';

const TUS_VERSION = '1.0.0';
const TUS_EXTENSIONS = 'creation,termination,checksum,expiration';
const TUS_CHECKSUMS = 'sha1,sha256';
const PATCH_CONTENT_TYPE = 'application/offset+octet-stream';

/**
 * Resumable uploads by the tus 1.0 protocol (core, creation, termination, checksum, expiration; ADR 0014), which
 * Uppy and tus-js-client speak: POST creates an upload of a file of the package, HEAD tells its offset, PATCH
 * appends at the offset, DELETE drops it. The file is attached as a PUT attaches it when its last byte arrives.
 * tus clients read status codes only; the bodies of errors are problem+json like everywhere else.
 */
@ApiTags('uploads')
@ApiBearerAuth()
@ApiProblems('unauthorized', 'forbidden')
@Roles(...WRITERS)
@Controller('v1/packages/:id/uploads')
export class TusUploadsController implements OnApplicationBootstrap {
  constructor(
    private readonly uploads: ResumableUploads,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.uploads.scheduleSweeps();
  }

  @Options()
  @HttpCode(204)
  @ApiOperation({ summary: 'tus discovery: version, extensions, largest upload, checksum algorithms' })
  discover(@Res({ passthrough: true }) response: Response): void {
    this.describeServer(response);
  }

  @Options(':uploadId')
  @HttpCode(204)
  @ApiOperation({ summary: 'tus discovery, on an upload' })
  discoverOnUpload(@Res({ passthrough: true }) response: Response): void {
    this.describeServer(response);
  }

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Create a resumable upload of one file (tus creation)',
    description:
      'Upload-Metadata: `relative_path` (or `filename`), optional `media_type` (or `filetype`), `sha256` and `blake3` (each 64 hex digits, or the 32 bytes themselves), values base64 as tus encodes them.',
  })
  @ApiHeader({ name: 'Tus-Resumable', required: true, description: '1.0.0' })
  @ApiHeader({ name: 'Upload-Length', required: true, description: "The file's size in bytes." })
  @ApiHeader({ name: 'Upload-Metadata', required: true })
  @ApiResponse({
    status: 201,
    description: 'Created; `Location` names the upload, `Upload-Expires` its expiry.',
  })
  @ApiProblems(
    'invalid_input',
    'invalid_relative_path',
    'package_not_found',
    'duplicate_relative_path',
    'path_conflict',
    'illegal_package_state',
    'size_limit_exceeded',
    'tus_version_unsupported',
  )
  async create(
    @Param('id') id: string,
    @Req() request: ApiRequest,
    @Actor() actor: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<void> {
    response.setHeader('Tus-Resumable', TUS_VERSION);
    checkTusResumable(request);
    if (request.headers['upload-defer-length'] !== undefined) {
      throw new HttpProblem(
        'invalid_input',
        'Upload-Defer-Length is not supported: send Upload-Length',
        {},
        {
          field: 'Upload-Length',
        },
      );
    }
    const length = offsetHeader(request, 'upload-length', 'Upload-Length');
    if (length > this.config.maxFileSize) {
      throw new HttpProblem('size_limit_exceeded', `files are limited to ${this.config.maxFileSize} bytes`);
    }
    const metadata = parseUploadMetadata(header(request, 'upload-metadata'));
    const relativePath = text(metadata, 'relative_path') ?? text(metadata, 'filename');
    if (relativePath === undefined) {
      throw new HttpProblem(
        'invalid_input',
        'Upload-Metadata must name relative_path',
        {},
        {
          field: 'Upload-Metadata',
        },
      );
    }
    const status = await this.uploads.create(
      id,
      {
        length,
        relativePath,
        mediaType: text(metadata, 'media_type') ?? text(metadata, 'filetype'),
        sha256: digestOf(metadata, 'sha256'),
        blake3: digestOf(metadata, 'blake3'),
      },
      actor,
    );
    response.setHeader('Location', `/v1/packages/${id}/uploads/${status.id}`);
    describeUpload(response, status);
  }

  /** Readers may HEAD as they may GET anything; an upload answers only its creator (404 to anyone else). */
  @Head(':uploadId')
  @Roles(...ANY_ROLE)
  @HttpCode(200)
  @ApiOperation({ summary: "An upload's offset (tus core)" })
  @ApiResponse({ status: 200, description: '`Upload-Offset`, `Upload-Length`, `Upload-Expires`.' })
  @ApiProblems('upload_not_found', 'upload_expired', 'upload_busy', 'tus_version_unsupported')
  async offset(
    @Param('id') id: string,
    @Param('uploadId') uploadId: string,
    @Req() request: ApiRequest,
    @Actor() actor: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<void> {
    response.setHeader('Tus-Resumable', TUS_VERSION);
    response.setHeader('Cache-Control', 'no-store');
    checkTusResumable(request);
    describeUpload(response, await this.uploads.status(id, uploadId, actor));
  }

  /** The raw body is bytes of the file from Upload-Offset on: no body parser runs for its Content-Type. */
  @Patch(':uploadId')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Append bytes at the offset (tus core, checksum); the last byte attaches the file',
  })
  @ApiHeader({ name: 'Upload-Offset', required: true })
  @ApiHeader({
    name: 'Upload-Checksum',
    required: false,
    description: '`sha1 <base64>` or `sha256 <base64>`',
  })
  @ApiResponse({
    status: 204,
    description:
      'Taken: `Upload-Offset` is the new offset; with the last byte, `X-Artifactstore-File` names the file.',
  })
  @ApiProblems(
    'invalid_input',
    'upload_not_found',
    'upload_expired',
    'upload_offset_mismatch',
    'upload_busy',
    'checksum_mismatch',
    'unsupported_media_type',
    'size_limit_exceeded',
    'digest_mismatch',
    'duplicate_relative_path',
    'path_conflict',
    'illegal_package_state',
    'tus_version_unsupported',
  )
  async append(
    @Param('id') id: string,
    @Param('uploadId') uploadId: string,
    @Req() request: ApiRequest,
    @Actor() actor: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<void> {
    response.setHeader('Tus-Resumable', TUS_VERSION);
    checkTusResumable(request);
    const contentType = header(request, 'content-type');
    if (contentType?.split(';')[0]?.trim().toLowerCase() !== PATCH_CONTENT_TYPE) {
      throw new HttpProblem(
        'unsupported_media_type',
        `a PATCH sends Content-Type: ${PATCH_CONTENT_TYPE}`,
        {},
        {
          field: 'Content-Type',
        },
      );
    }
    const offset = offsetHeader(request, 'upload-offset', 'Upload-Offset');
    const checksum = parseUploadChecksum(header(request, 'upload-checksum'));
    const status = await this.uploads.append(id, uploadId, offset, request, actor, checksum);
    describeUpload(response, status);
  }

  @Delete(':uploadId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Terminate an upload: its staged bytes are removed (tus termination)' })
  @ApiProblems('upload_not_found', 'upload_expired', 'tus_version_unsupported')
  async terminate(
    @Param('id') id: string,
    @Param('uploadId') uploadId: string,
    @Req() request: ApiRequest,
    @Actor() actor: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<void> {
    response.setHeader('Tus-Resumable', TUS_VERSION);
    checkTusResumable(request);
    await this.uploads.terminate(id, uploadId, actor);
  }

  private describeServer(response: Response): void {
    response.setHeader('Tus-Resumable', TUS_VERSION);
    response.setHeader('Tus-Version', TUS_VERSION);
    response.setHeader('Tus-Extension', TUS_EXTENSIONS);
    response.setHeader('Tus-Max-Size', String(this.config.maxFileSize));
    response.setHeader('Tus-Checksum-Algorithm', TUS_CHECKSUMS);
  }
}

function describeUpload(response: Response, status: UploadStatus): void {
  response.setHeader('Upload-Offset', String(status.offset));
  response.setHeader('Upload-Length', String(status.length));
  if (status.fileId === undefined) {
    response.setHeader('Upload-Expires', new Date(status.expiresAt).toUTCString());
  } else {
    response.setHeader('X-Artifactstore-File', `/v1/files/${status.fileId}`);
  }
}

function checkTusResumable(request: ApiRequest): void {
  const version = header(request, 'tus-resumable');
  if (version !== TUS_VERSION) {
    throw new HttpProblem(
      'tus_version_unsupported',
      `send Tus-Resumable: ${TUS_VERSION}`,
      { 'Tus-Version': TUS_VERSION },
      { field: 'Tus-Resumable' },
    );
  }
}

function header(request: ApiRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** A non-negative integer header (Upload-Length, Upload-Offset), required. */
function offsetHeader(request: ApiRequest, name: string, spelled: string): number {
  const value = header(request, name);
  if (value === undefined || !/^[0-9]{1,16}$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) {
    throw new HttpProblem(
      'invalid_input',
      `${spelled} must be a non-negative integer`,
      {},
      { field: spelled },
    );
  }
  return Number(value);
}

/**
 * tus Upload-Metadata: comma-separated `key base64value` pairs (the value may be missing); keys unique, ASCII
 * without spaces or commas. Values decoded to bytes.
 */
export function parseUploadMetadata(value: string | undefined): Map<string, Buffer> {
  const pairs = new Map<string, Buffer>();
  if (value === undefined || value.trim() === '') return pairs;
  for (const pair of value.split(',')) {
    const match = /^\s*([!-+\--~]+)(?: ([A-Za-z0-9+/]*={0,2}))?\s*$/.exec(pair);
    const [, key, encoded = ''] = match ?? [];
    if (!key || encoded.length % 4 !== 0 || pairs.has(key)) {
      throw new HttpProblem(
        'invalid_input',
        `Upload-Metadata is malformed: ${JSON.stringify(pair)}`,
        {},
        {
          field: 'Upload-Metadata',
        },
      );
    }
    pairs.set(key, Buffer.from(encoded, 'base64'));
  }
  return pairs;
}

function text(metadata: Map<string, Buffer>, key: string): string | undefined {
  const value = metadata.get(key);
  if (value === undefined || value.length === 0) return undefined;
  const decoded = new TextDecoder('utf-8', { fatal: false }).decode(value);
  if (!Buffer.from(decoded, 'utf8').equals(value)) {
    throw new HttpProblem('invalid_input', `Upload-Metadata ${key} must be UTF-8`, {}, { field: key });
  }
  return decoded;
}

/** A digest in Upload-Metadata: 64 hex digits, or the 32 bytes themselves. */
export function digestOf(metadata: Map<string, Buffer>, key: 'sha256' | 'blake3'): Buffer | undefined {
  const value = metadata.get(key);
  if (value === undefined || value.length === 0) return undefined;
  if (value.length === 32) return value;
  const hex = value.toString('latin1');
  if (/^[0-9a-fA-F]{64}$/.test(hex)) return Buffer.from(hex, 'hex');
  throw new HttpProblem(
    'invalid_input',
    `Upload-Metadata ${key} must be 64 hex digits or 32 bytes (base64-encoded as tus encodes every value)`,
    {},
    { field: key },
  );
}

/** tus checksum extension: `<algorithm> <base64 digest>`; sha1 and sha256 are supported (others: 400). */
export function parseUploadChecksum(value: string | undefined): ChunkChecksum | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*([a-z0-9-]+) ([A-Za-z0-9+/]*={0,2})\s*$/.exec(value);
  const [, algorithm, encoded = ''] = match ?? [];
  const digest = Buffer.from(encoded, 'base64');
  if (algorithm === 'sha1' && digest.length === 20) return { algorithm, digest };
  if (algorithm === 'sha256' && digest.length === 32) return { algorithm, digest };
  throw new HttpProblem(
    'invalid_input',
    `Upload-Checksum must be "sha1 <base64>" or "sha256 <base64>" (Tus-Checksum-Algorithm)`,
    {},
    { field: 'Upload-Checksum' },
  );
}
