import { timingSafeEqual } from 'node:crypto';
import { type CanActivate, type ExecutionContext, Injectable, Logger, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppConfig, type Role } from '@artifactstore/config';
import { sha256 } from '@artifactstore/codec';
import { HttpProblem } from './problem.js';
import type { ApiRequest, Principal } from './principal.js';

const PUBLIC = 'artifactstore:public';

/** Marks a controller or route as open to everyone (health, readiness). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC, true);

const LOCAL: Principal = { name: 'local', role: 'admin' };

/** What a role may do: readers read, producers also write packages, admins also reach /v1/admin. */
export function roleAllows(role: Role, method: string, path: string): boolean {
  if (path === '/v1/admin' || path.startsWith('/v1/admin/')) return role === 'admin';
  if (method === 'GET' || method === 'HEAD') return true;
  return role === 'producer' || role === 'admin';
}

/**
 * Bearer tokens from ARTIFACTSTORE_TOKENS_FILE, compared by SHA-256 in constant time against every entry (so the
 * time taken does not tell which entry, if any, was close). Without tokens the server is in local mode: every
 * request is the admin `local` (config refuses that on a non-loopback address unless explicitly allowed).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly tokens: readonly { name: string; role: Role; digest: Buffer }[];

  constructor(
    config: AppConfig,
    private readonly reflector: Reflector,
  ) {
    this.tokens = config.tokens.map((token) => ({
      name: token.name,
      role: token.role,
      digest: Buffer.from(token.tokenSha256, 'hex'),
    }));
    if (this.tokens.length === 0) {
      new Logger('auth').warn(
        'no ARTIFACTSTORE_TOKENS_FILE: local mode, every request acts as the admin "local"',
      );
    }
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, [context.getHandler(), context.getClass()]))
      return true;
    const request = context.switchToHttp().getRequest<ApiRequest>();
    const principal = this.authenticate(request);
    if (!roleAllows(principal.role, request.method, request.path)) {
      throw new HttpProblem(
        'forbidden',
        `the ${principal.role} role may not ${request.method} ${request.path}`,
      );
    }
    request.principal = principal;
    return true;
  }

  private authenticate(request: ApiRequest): Principal {
    if (this.tokens.length === 0) return LOCAL;
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer[ ]+([!-~]+)[ ]*$/i.exec(header);
    const token = match?.[1];
    if (token === undefined) {
      throw new HttpProblem('unauthorized', 'send Authorization: Bearer <token>', {
        'WWW-Authenticate': 'Bearer realm="artifactstore"',
      });
    }
    const digest = sha256(token);
    let found: Principal | undefined;
    for (const entry of this.tokens) {
      if (timingSafeEqual(entry.digest, digest) && found === undefined)
        found = { name: entry.name, role: entry.role };
    }
    if (!found) {
      throw new HttpProblem('unauthorized', 'unknown token', {
        'WWW-Authenticate': 'Bearer realm="artifactstore", error="invalid_token"',
      });
    }
    return found;
  }
}
