import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Registry } from '@artifactstore/registry';
import { sendFile } from './file-response.js';
import type { ApiRequest } from './principal.js';

@Controller('v1/files')
export class FilesController {
  constructor(private readonly registry: Registry) {}

  /** The bytes of a file (GET and HEAD): ranges, ETag, 304, Content-Digest. */
  @Get(':id')
  async download(
    @Param('id') id: string,
    @Req() request: ApiRequest,
    @Res() response: Response,
  ): Promise<void> {
    await sendFile(this.registry, request, response, await this.registry.findFile(id));
  }
}
