import { Controller, Get } from '@nestjs/common';
import { Registry } from '@artifactstore/registry';

/** Liveness and readiness in one: answers only when the database does. */
@Controller()
export class HealthController {
  constructor(private readonly registry: Registry) {}

  @Get('healthz')
  async health(): Promise<{ status: 'ok'; head_sequence: number }> {
    return { status: 'ok', head_sequence: await this.registry.headSequence() };
  }
}
