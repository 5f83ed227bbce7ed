import { Controller, Get, Header, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from './auth.guard.js';
import { Metrics } from './metrics.service.js';

/**
 * Prometheus metrics, open like /healthz: they carry route patterns, statuses and counts, never ids, actors or
 * tokens. Not in the OpenAPI document, which describes the API, not its operation.
 */
@ApiExcludeController()
@Public()
@Controller()
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async scrape(@Res({ passthrough: true }) response: Response): Promise<string> {
    response.setHeader('Content-Type', this.metrics.registry.contentType);
    return this.metrics.registry.metrics();
  }
}
