import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Put,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { AppConfig } from '@artifactstore/config';
import {
  MAX_PAGE_LIMIT,
  PACKAGE_STATUSES,
  Registry,
  type CreatePackageInput,
  type FileRecord,
  type FinalizeResult,
  type Page,
  type PackageRecord,
} from '@artifactstore/registry';
import { ApiProblems } from './api-problems.decorator.js';
import { parseBlake3Header, parseContentDigest } from './content-digest.js';
import { CreatePackageDto } from './dto/create-package.dto.js';
import { FileDto } from './dto/file.dto.js';
import { FilePageDto } from './dto/file-page.dto.js';
import { FinalizeResultDto } from './dto/finalize-result.dto.js';
import { PackageDto } from './dto/package.dto.js';
import { PackagePageDto } from './dto/package-page.dto.js';
import { sendFile } from './file-response.js';
import { sendManifest } from './manifest-response.js';
import { jsonFields } from './json-body.js';
import { HttpProblem } from './problem.js';
import { Actor, principalOf, type ApiRequest } from './principal.js';
import { ChangeRetentionDto } from './dto/change-retention.dto.js';
import { ReasonDto } from './dto/reason.dto.js';
import { onlyKnownParameters, queryInteger, queryText } from './query-values.js';
import { receiveMultipartFile } from './multipart-upload.js';
import { relativePathOf } from './request-path.js';
import { ANY_ROLE, Roles, WRITERS } from './auth.guard.js';

const CREATE_FIELDS = ['id', 'name', 'producer', 'subject', 'retention_class', 'metadata'];

const PATH_PARAM = {
  name: 'path',
  type: String,
  description:
    'The relative path inside the package, `/`-separated; each segment percent-decoded on its own (`%2F` separates too).',
  example: 'bin/webapp',
} as const;

@ApiTags('packages')
@ApiBearerAuth()
@ApiProblems('unauthorized', 'forbidden')
@Roles(...ANY_ROLE)
@Controller('v1/packages')
export class PackagesController {
  constructor(
    private readonly registry: Registry,
    private readonly config: AppConfig,
  ) {}

  @Post()
  @Roles(...WRITERS)
  @HttpCode(201)
  @ApiOperation({ summary: 'Create a package' })
  @ApiBody({ type: CreatePackageDto })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Makes a retry safe: the same key (per actor) with the same body answers the package the first try created, with 200; with another body, 422. 1–255 printable ASCII characters, bare or as a quoted structured-field string.',
  })
  @ApiCreatedResponse({ type: PackageDto, description: 'Created; `Location` names it.' })
  @ApiOkResponse({
    type: PackageDto,
    description: 'Created earlier by a request with the same Idempotency-Key.',
  })
  @ApiProblems(
    'invalid_input',
    'unknown_retention_class',
    'size_limit_exceeded',
    'idempotency_key_reused',
    'package_conflict',
  )
  async create(
    @Body() body: unknown,
    @Actor() actor: string,
    @Req() request: ApiRequest,
    @Res({ passthrough: true }) response: Response,
  ): Promise<PackageRecord> {
    const input = createInput(body);
    const key = idempotencyKeyOf(request.headers['idempotency-key']);
    const { package: pkg, created } =
      key === undefined
        ? { package: await this.registry.createPackage(input, actor), created: true }
        : await this.registry.createPackageIdempotently(input, actor, key);
    response.setHeader('Location', `/v1/packages/${pkg.id}`);
    if (!created) response.status(200);
    return pkg;
  }

  @Get()
  @ApiOperation({ summary: 'List packages, newest first' })
  @ApiQuery({ name: 'name', required: false })
  @ApiQuery({ name: 'producer', required: false })
  @ApiQuery({ name: 'subject', required: false })
  @ApiQuery({ name: 'status', required: false, enum: PACKAGE_STATUSES })
  @ApiQuery({ name: 'limit', required: false, type: Number, description: '1–1000, default 100' })
  @ApiQuery({ name: 'cursor', required: false, description: 'next_cursor of the previous page' })
  @ApiOkResponse({ type: PackagePageDto })
  @ApiProblems('invalid_input')
  list(@Query() query: Record<string, unknown>): Promise<Page<PackageRecord>> {
    onlyKnownParameters(query, ['name', 'producer', 'subject', 'status', 'limit', 'cursor']);
    return this.registry.listPackages({
      name: queryText(query, 'name'),
      producer: queryText(query, 'producer'),
      subject: queryText(query, 'subject'),
      status: queryText(query, 'status'),
      limit: queryInteger(query, 'limit', 1, MAX_PAGE_LIMIT),
      cursor: queryText(query, 'cursor'),
    });
  }

  @Get(':id')
  @ApiOperation({ summary: 'Show a package' })
  @ApiOkResponse({ type: PackageDto })
  @ApiProblems('invalid_input', 'package_not_found')
  get(@Param('id') id: string): Promise<PackageRecord> {
    return this.registry.getPackage(id);
  }

  @Delete(':id')
  @Roles(...WRITERS)
  @HttpCode(200)
  @ApiOperation({
    summary: 'Delete a package: its files are no longer served, its metadata and manifest stay',
    description:
      'Admins may delete any package that is not held; producers only one still `created` (an abort). The blobs go at the next garbage collection once nothing live uses them.',
  })
  @ApiBody({ type: ReasonDto, required: false })
  @ApiOkResponse({ type: PackageDto })
  @ApiProblems(
    'invalid_input',
    'package_not_found',
    'package_held',
    'illegal_package_state',
    'deletion_forbidden',
  )
  remove(@Param('id') id: string, @Body() body: unknown, @Req() request: ApiRequest): Promise<PackageRecord> {
    const { reason } = jsonFields(body, ['reason'], { optional: true });
    const principal = principalOf(request);
    const scope = principal.role === 'admin' ? 'any' : 'created';
    return this.registry.deletePackage(id, reason, principal.name, scope);
  }

  @Put(':id/hold')
  @Roles('admin')
  @ApiOperation({ summary: 'Hold a package: it neither expires nor can be deleted until released' })
  @ApiBody({ type: ReasonDto, required: false })
  @ApiOkResponse({ type: PackageDto })
  @ApiProblems('invalid_input', 'package_not_found', 'illegal_package_state')
  hold(@Param('id') id: string, @Body() body: unknown, @Actor() actor: string): Promise<PackageRecord> {
    const { reason } = jsonFields(body, ['reason'], { optional: true });
    return this.registry.holdPackage(id, reason, actor);
  }

  @Delete(':id/hold')
  @Roles('admin')
  @HttpCode(200)
  @ApiOperation({ summary: 'Release a hold' })
  @ApiOkResponse({ type: PackageDto })
  @ApiProblems('invalid_input', 'package_not_found', 'illegal_package_state')
  release(@Param('id') id: string, @Actor() actor: string): Promise<PackageRecord> {
    return this.registry.releasePackage(id, actor);
  }

  @Patch(':id')
  @Roles('admin')
  @ApiOperation({
    summary: "Change a package's retention class; its expiry is recomputed from its finalization",
  })
  @ApiBody({ type: ChangeRetentionDto })
  @ApiOkResponse({ type: PackageDto })
  @ApiProblems('invalid_input', 'package_not_found', 'illegal_package_state', 'unknown_retention_class')
  changeRetention(
    @Param('id') id: string,
    @Body() body: unknown,
    @Actor() actor: string,
  ): Promise<PackageRecord> {
    const fields = jsonFields(body, ['retention_class']);
    if (fields.retention_class === undefined) {
      throw new HttpProblem('invalid_input', 'retention_class is required', {}, { field: 'retention_class' });
    }
    return this.registry.changeRetention(id, fields.retention_class, actor);
  }

  @Post(':id/finalize')
  @Roles(...WRITERS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Finalize: build the manifest; its BLAKE3 becomes the content address' })
  @ApiOkResponse({ type: FinalizeResultDto })
  @ApiProblems('invalid_input', 'package_not_found', 'illegal_package_state')
  finalize(@Param('id') id: string, @Actor() actor: string): Promise<FinalizeResult> {
    return this.registry.finalizePackage(id, actor);
  }

  @Get(':id/manifest')
  @ApiOperation({ summary: "A finalized package's manifest: canonical CBOR (default) or RFC 8785 JSON" })
  @ApiQuery({ name: 'format', required: false, enum: ['cbor', 'json'], description: 'Wins over Accept.' })
  @ApiProduces('application/cbor', 'application/json')
  @ApiOkResponse({
    description: 'The manifest bytes; ETag `"<content_address>"` (CBOR) or `"<content_address>.json"`.',
  })
  @ApiProblems('invalid_input', 'package_not_found', 'illegal_package_state', 'not_acceptable')
  manifest(@Param('id') id: string, @Req() request: ApiRequest, @Res() response: Response): Promise<void> {
    return sendManifest(this.registry, request, response, id);
  }

  @Get(':id/files')
  @ApiOperation({ summary: "List a package's files in path order" })
  @ApiQuery({ name: 'limit', required: false, type: Number, description: '1–1000, default 100' })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiOkResponse({ type: FilePageDto })
  @ApiProblems('invalid_input', 'package_not_found')
  listFiles(@Param('id') id: string, @Query() query: Record<string, unknown>): Promise<Page<FileRecord>> {
    onlyKnownParameters(query, ['limit', 'cursor']);
    return this.registry.listFiles(id, {
      limit: queryInteger(query, 'limit', 1, MAX_PAGE_LIMIT),
      cursor: queryText(query, 'cursor'),
    });
  }

  /**
   * The raw body is the file: no body parser runs on this route, whatever the Content-Type, which is stored as
   * the media type. Content-Digest (SHA-256) and X-Content-BLAKE3 are checked as the bytes stream.
   */
  @Put(':id/files/*path')
  @Roles(...WRITERS)
  @HttpCode(201)
  @ApiOperation({ summary: 'Upload a file: the raw body, streamed' })
  @ApiParam(PATH_PARAM)
  @ApiConsumes('application/octet-stream')
  @ApiBody({
    schema: { type: 'string', format: 'binary' },
    description: 'The file; Content-Type is its media type.',
  })
  @ApiHeader({ name: 'Content-Digest', required: false, description: 'RFC 9530, e.g. `sha-256=:<base64>:`' })
  @ApiHeader({ name: 'X-Content-BLAKE3', required: false, description: '64 hex digits' })
  @ApiCreatedResponse({ type: FileDto, description: 'Stored; `Location` names the file.' })
  @ApiProblems(
    'invalid_input',
    'invalid_relative_path',
    'package_not_found',
    'duplicate_relative_path',
    'path_conflict',
    'illegal_package_state',
    'size_limit_exceeded',
    'digest_mismatch',
  )
  async upload(
    @Param('id') id: string,
    @Req() request: ApiRequest,
    @Actor() actor: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<FileRecord> {
    const relativePath = relativePathOf(request);
    const expectedSha256 = parseContentDigest(single(request.headers['content-digest']));
    const expectedBlake3 = parseBlake3Header(single(request.headers['x-content-blake3']));
    const declared = request.headers['content-length'];
    const expectedSize = declared === undefined ? undefined : Number(declared);
    if (expectedSize !== undefined && expectedSize > this.config.maxFileSize) {
      throw new HttpProblem('size_limit_exceeded', `files are limited to ${this.config.maxFileSize} bytes`);
    }
    const file = await this.registry.ingestFile(
      id,
      relativePath,
      request.headers['content-type'],
      request,
      actor,
      {
        expectedSize,
        expectedSha256,
        expectedBlake3,
        maxSize: this.config.maxFileSize,
      },
    );
    response.setHeader('Location', `/v1/files/${file.id}`);
    return file;
  }

  /**
   * The same as the PUT, for browsers and Swagger UI: a multipart/form-data form with a `file` part and optional
   * `relative_path` (default: the part's filename) and `media_type` (default: the part's type) fields.
   */
  @Post(':id/files')
  @Roles(...WRITERS)
  @HttpCode(201)
  @ApiOperation({ summary: 'Upload a file from a form (multipart/form-data), streamed' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['file'],
      properties: {
        file: { type: 'string', format: 'binary', description: 'The file.' },
        // An empty example: Swagger UI pre-fills optional form fields with their example ("string" otherwise),
        // and an empty field means "use the default".
        relative_path: {
          type: 'string',
          example: '',
          description: "Its path in the package; default: the file's name.",
        },
        media_type: {
          type: 'string',
          example: '',
          description: "Its media type; default: the part's Content-Type.",
        },
      },
    },
  })
  @ApiCreatedResponse({ type: FileDto, description: 'Stored; `Location` names the file.' })
  @ApiProblems(
    'invalid_input',
    'invalid_relative_path',
    'package_not_found',
    'duplicate_relative_path',
    'path_conflict',
    'illegal_package_state',
    'size_limit_exceeded',
  )
  async uploadForm(
    @Param('id') id: string,
    @Req() request: ApiRequest,
    @Actor() actor: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<FileRecord> {
    if (!request.is('multipart/form-data')) {
      throw new HttpProblem(
        'invalid_input',
        'send multipart/form-data (or PUT the raw bytes to …/files/{path})',
        {},
        {
          field: 'Content-Type',
        },
      );
    }
    const form = await receiveMultipartFile(this.registry, id, request, response, this.config.maxFileSize);
    let relativePath: string;
    let mediaType: string;
    try {
      relativePath = formText(form.fields, 'relative_path') ?? form.filename;
      mediaType = formText(form.fields, 'media_type') ?? form.mimetype;
    } catch (error) {
      await this.registry.discardStaged(form.staged);
      throw error;
    }
    const file = await this.registry.attachFile(id, relativePath, mediaType, form.staged, actor);
    response.setHeader('Location', `/v1/files/${file.id}`);
    return file;
  }

  @Get(':id/files/*path')
  @ApiOperation({ summary: 'Download a file by its path (GET or HEAD; ranges, ETag, If-None-Match)' })
  @ApiParam(PATH_PARAM)
  @ApiProduces('application/octet-stream')
  @ApiOkResponse({ description: 'The bytes, BLAKE3-verified as they stream.' })
  @ApiResponse({ status: 206, description: 'One byte range.' })
  @ApiResponse({ status: 304, description: 'If-None-Match matched.' })
  @ApiProblems(
    'invalid_input',
    'invalid_relative_path',
    'package_not_found',
    'file_not_found',
    'range_not_satisfiable',
    'integrity_error',
  )
  async download(
    @Param('id') id: string,
    @Req() request: ApiRequest,
    @Res() response: Response,
  ): Promise<void> {
    const file = await this.registry.findFileByPath(id, relativePathOf(request));
    await sendFile(this.registry, request, response, file);
  }
}

/** A text field of a form, when given and not empty (Swagger UI sends empty optional fields). */
function formText(fields: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = fields[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') {
    throw new HttpProblem('invalid_input', `${name} must be given once, as text`, {}, { field: name });
  }
  return value;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The Idempotency-Key header: a structured-field string (`"…"`, with `\\` and `\"` escapes) as the IETF draft
 * writes it, or the bare key as many clients send it; undefined when absent. The registry checks the characters.
 */
function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) {
    throw new HttpProblem('invalid_input', 'send one Idempotency-Key', {}, { field: 'Idempotency-Key' });
  }
  const quoted = /^"((?:[^"\\]|\\["\\])*)"$/.exec(header);
  return quoted ? (quoted[1] ?? '').replace(/\\(["\\])/g, '$1') : header;
}

/** The JSON body of a create: an object with the known fields only. The registry checks every field's rules. */
function createInput(body: unknown): CreatePackageInput {
  return jsonFields(body, CREATE_FIELDS) as unknown as CreatePackageInput;
}
