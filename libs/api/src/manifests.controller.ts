import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import { Registry } from '@artifactstore/registry';
import { ApiProblems } from './api-problems.decorator.js';
import { sendManifest } from './manifest-response.js';
import { HttpProblem } from './problem.js';
import type { ApiRequest } from './principal.js';
import { ANY_ROLE, Roles } from './auth.guard.js';

@ApiTags('manifests')
@ApiBearerAuth()
@ApiProblems('unauthorized', 'forbidden')
@Roles(...ANY_ROLE)
@Controller('v1/manifests')
export class ManifestsController {
  constructor(private readonly registry: Registry) {}

  /** A manifest by its content address (`blake3:<hex>`). */
  @Get(':address')
  @ApiOperation({ summary: 'A manifest by content address: canonical CBOR (default) or RFC 8785 JSON' })
  @ApiQuery({ name: 'format', required: false, enum: ['cbor', 'json'], description: 'Wins over Accept.' })
  @ApiProduces('application/cbor', 'application/json')
  @ApiOkResponse({ description: 'The manifest bytes; their BLAKE3 is the content address.' })
  @ApiProblems('invalid_input', 'manifest_not_found', 'not_acceptable')
  get(
    @Param('address') address: string,
    @Req() request: ApiRequest,
    @Res() response: Response,
  ): Promise<void> {
    if (!address.startsWith('blake3:')) {
      throw new HttpProblem(
        'invalid_input',
        'a content address looks like blake3:<64 hex digits>',
        {},
        {
          field: 'content_address',
        },
      );
    }
    return sendManifest(this.registry, request, response, address);
  }
}
