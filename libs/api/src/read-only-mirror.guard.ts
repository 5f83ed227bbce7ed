import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { AppConfig } from '@artifactstore/config';
import type { ApiRequest } from './principal.js';
import { HttpProblem } from './problem.js';

/** Methods that change nothing. */
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
/**
 * Writes a mirror still takes: they append nothing to the log (a replay job rebuilds views from it, a verify job
 * only reads it).
 */
const MIRROR_WRITES = new Set(['POST /v1/admin/replay', 'POST /v1/admin/verify']);

/**
 * On a mirror (ARTIFACTSTORE_FOLLOW_URL), every request that would append to the log is refused with 409
 * `read_only_mirror`, after authentication (so a stranger still gets 401): the mirror's log is its source's.
 */
@Injectable()
export class ReadOnlyMirrorGuard implements CanActivate {
  constructor(private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    if (this.config.followUrl === '') return true;
    const request = context.switchToHttp().getRequest<ApiRequest>();
    if (READS.has(request.method) || MIRROR_WRITES.has(`${request.method} ${request.path}`)) return true;
    throw new HttpProblem(
      'read_only_mirror',
      `this server is a read-only mirror of ${this.config.followUrl}; send writes there`,
    );
  }
}
