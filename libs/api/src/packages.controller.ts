import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { AppConfig } from '@artifactstore/config';
import {
  Registry,
  type CreatePackageInput,
  type FileRecord,
  type FinalizeResult,
  type Page,
  type PackageRecord,
} from '@artifactstore/registry';
import { parseBlake3Header, parseContentDigest } from './content-digest.js';
import { sendFile } from './file-response.js';
import { sendManifest } from './manifest-response.js';
import { HttpProblem } from './problem.js';
import { Actor, type ApiRequest } from './principal.js';
import { onlyKnownParameters, queryInteger, queryText } from './query-values.js';
import { relativePathOf } from './request-path.js';

const CREATE_FIELDS = new Set(['name', 'producer', 'subject', 'retention_class', 'metadata']);

@Controller('v1/packages')
export class PackagesController {
  constructor(
    private readonly registry: Registry,
    private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(201)
  async create(
    @Body() body: unknown,
    @Actor() actor: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<PackageRecord> {
    const pkg = await this.registry.createPackage(createInput(body), actor);
    response.setHeader('Location', `/v1/packages/${pkg.id}`);
    return pkg;
  }

  @Get()
  list(@Query() query: Record<string, unknown>): Promise<Page<PackageRecord>> {
    onlyKnownParameters(query, ['name', 'producer', 'subject', 'status', 'limit', 'cursor']);
    return this.registry.listPackages({
      name: queryText(query, 'name'),
      producer: queryText(query, 'producer'),
      subject: queryText(query, 'subject'),
      status: queryText(query, 'status'),
      limit: queryInteger(query, 'limit', 1, 1000),
      cursor: queryText(query, 'cursor'),
    });
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<PackageRecord> {
    return this.registry.getPackage(id);
  }

  @Post(':id/finalize')
  @HttpCode(200)
  finalize(@Param('id') id: string, @Actor() actor: string): Promise<FinalizeResult> {
    return this.registry.finalizePackage(id, actor);
  }

  @Get(':id/manifest')
  manifest(@Param('id') id: string, @Req() request: ApiRequest, @Res() response: Response): Promise<void> {
    return sendManifest(this.registry, request, response, id);
  }

  @Get(':id/files')
  listFiles(@Param('id') id: string, @Query() query: Record<string, unknown>): Promise<Page<FileRecord>> {
    onlyKnownParameters(query, ['limit', 'cursor']);
    return this.registry.listFiles(id, {
      limit: queryInteger(query, 'limit', 1, 1000),
      cursor: queryText(query, 'cursor'),
    });
  }

  /**
   * The raw body is the file: no body parser runs on this route, whatever the Content-Type, which is stored as
   * the media type. Content-Digest (SHA-256) and X-Content-BLAKE3 are checked as the bytes stream.
   */
  @Put(':id/files/*path')
  @HttpCode(201)
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

  @Get(':id/files/*path')
  async download(
    @Param('id') id: string,
    @Req() request: ApiRequest,
    @Res() response: Response,
  ): Promise<void> {
    const file = await this.registry.findFileByPath(id, relativePathOf(request));
    await sendFile(this.registry, request, response, file);
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The JSON body of a create: an object with the known fields only (a typo is an error, not a silent default). */
function createInput(body: unknown): CreatePackageInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpProblem(
      'invalid_input',
      'send a JSON object with Content-Type: application/json',
      {},
      {
        field: 'body',
      },
    );
  }
  for (const key of Object.keys(body)) {
    if (!CREATE_FIELDS.has(key)) {
      throw new HttpProblem('invalid_input', `unknown field ${JSON.stringify(key)}`, {}, { field: key });
    }
  }
  // The registry checks every field's type and rules.
  return body as CreatePackageInput;
}
