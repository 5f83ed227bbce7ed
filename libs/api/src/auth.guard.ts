import { timingSafeEqual } from 'node:crypto';
import { type CanActivate, type ExecutionContext, Injectable, Logger, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppConfig, ROLES, type Role } from '@artifactstore/config';
import { sha256 } from '@artifactstore/codec';
import { HttpProblem } from './problem.js';
import type { ApiRequest, Principal } from './principal.js';
import { TrustedProxies } from './trusted-proxies.js';

const PUBLIC = 'artifactstore:public';
const ROLES_ALLOWED = 'artifactstore:roles';

/** Marks a controller or route as open to everyone (health, readiness). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC, true);

/**
 * The roles that may call a route (on a method) or every route of a controller (on the class; a method's own
 * wins). Every route that is not @Public() must say: a route that says nothing is refused to everyone.
 */
export const Roles = (...roles: Role[]): MethodDecorator & ClassDecorator =>
  SetMetadata(ROLES_ALLOWED, roles);

/** Every role: readers read, producers also write packages, admins also reach /v1/admin. */
export const ANY_ROLE: readonly Role[] = ROLES;
export const WRITERS: readonly Role[] = ['producer', 'admin'];

const LOCAL: Principal = { name: 'local', role: 'admin' };
/** The rule for token names in the tokens file, since a gateway's user becomes an actor just the same. */
const GATEWAY_USER = /^[^\p{Cc}]{1,256}$/u;

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
    const allowed = this.reflector.getAllAndOverride<readonly Role[] | undefined>(ROLES_ALLOWED, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!allowed?.includes(principal.role)) {
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
  const known = ANY_ROLE.find((candidate) => candidate === role);
  if (known === undefined) {
    throw new HttpProblem('unauthorized', `X-Forwarded-Role must be one of ${ANY_ROLE.join(', ')}`);
  }
  return { name: user, role: known };
}
