import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Registry } from '@artifactstore/registry';
import { ApiProblems } from './api-problems.decorator.js';
import { sendFile } from './file-response.js';
import type { ApiRequest } from './principal.js';
import { ANY_ROLE, Roles } from './auth.guard.js';

@ApiTags('files')
@ApiBearerAuth()
@ApiProblems('unauthorized', 'forbidden')
@Roles(...ANY_ROLE)
@Controller('v1/files')
export class FilesController {
  constructor(private readonly registry: Registry) {}

  /** The bytes of a file (GET and HEAD): ranges, ETag, 304, Content-Digest. */
  @Get(':id')
  @ApiOperation({ summary: 'Download a file by id (GET or HEAD; ranges, ETag, If-None-Match)' })
  @ApiProduces('application/octet-stream')
  @ApiOkResponse({
    description: 'The bytes, BLAKE3-verified as they stream; Content-Digest carries the SHA-256.',
  })
  @ApiResponse({ status: 206, description: 'One byte range.' })
  @ApiResponse({ status: 304, description: 'If-None-Match matched.' })
  @ApiProblems('invalid_input', 'file_not_found', 'range_not_satisfiable', 'integrity_error')
  async download(
    @Param('id') id: string,
    @Req() request: ApiRequest,
    @Res() response: Response,
  ): Promise<void> {
    await sendFile(this.registry, request, response, await this.registry.findFile(id));
  }
}
