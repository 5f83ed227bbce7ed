import { timingSafeEqual } from 'node:crypto';
import { type CanActivate, type ExecutionContext, Injectable, Logger, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppConfig, type Role } from '@artifactstore/config';
import { sha256 } from '@artifactstore/codec';
import { HttpProblem } from './problem.js';
import type { ApiRequest, Principal } from './principal.js';
import { TrustedProxies } from './trusted-proxies.js';

const PUBLIC = 'artifactstore:public';

/** Marks a controller or route as open to everyone (health, readiness). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC, true);

const LOCAL: Principal = { name: 'local', role: 'admin' };
const ROLES: readonly string[] = ['reader', 'producer', 'admin'] satisfies readonly Role[];
/** The rule for token names in the tokens file, since a gateway's user becomes an actor just the same. */
const GATEWAY_USER = /^[^\p{Cc}]{1,256}$/u;

/** What a role may do: readers read, producers also write packages, admins also reach /v1/admin. */
export function roleAllows(role: Role, method: string, path: string): boolean {
  // Lower-cased as a second guard: routing is case-sensitive (http-setup.ts), but a path that reaches an admin
  // route must never be judged by a spelling the router would treat as the same.
  const lower = path.toLowerCase();
  if (lower === '/v1/admin' || lower.startsWith('/v1/admin/')) return role === 'admin';
  if (method === 'GET' || method === 'HEAD') return true;
  return role === 'producer' || role === 'admin';
}

/**
 * A request from a trusted proxy (ARTIFACTSTORE_TRUSTED_PROXIES) that names a user in X-Forwarded-User is that
 * user, with the role in X-Forwarded-Role: the gateway authenticated them, and its identity wins over any
 * Authorization header it passed along. A trusted request without X-Forwarded-User, and every request from any
 * other peer, is authenticated as below (the X-Forwarded-* headers of an untrusted peer are never read).
 *
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
    private readonly trustedProxies: TrustedProxies,
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
    if (this.trustedProxies.includes(request.socket.remoteAddress)) {
      const gatewayUser = gatewayPrincipal(request);
      if (gatewayUser) return gatewayUser;
    }
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

/** The user a trusted gateway names, or undefined when it names none. A half-named or malformed one is refused. */
function gatewayPrincipal(request: ApiRequest): Principal | undefined {
  const user = request.headers['x-forwarded-user'];
  if (user === undefined) return undefined;
  const role = request.headers['x-forwarded-role'];
  if (typeof user !== 'string' || !GATEWAY_USER.test(user)) {
    throw new HttpProblem(
      'unauthorized',
      'X-Forwarded-User must be 1 to 256 characters without control characters',
    );
  }
  if (typeof role !== 'string' || !ROLES.includes(role)) {
    throw new HttpProblem('unauthorized', `X-Forwarded-Role must be one of ${ROLES.join(', ')}`);
  }
  return { name: user, role: role as Role };
}
