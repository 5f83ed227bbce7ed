import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Registry } from '@artifactstore/registry';
import { sendManifest } from './manifest-response.js';
import { HttpProblem } from './problem.js';
import type { ApiRequest } from './principal.js';

@Controller('v1/manifests')
export class ManifestsController {
  constructor(private readonly registry: Registry) {}

  /** A manifest by its content address (`blake3:<hex>`). */
  @Get(':address')
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
