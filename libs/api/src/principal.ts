import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { Role } from '@artifactstore/config';

/** Who is asking: the token's name (the actor of every event they cause) and its role. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
}

/** What the api lib adds to a request. */
export interface ApiRequest extends Request {
  requestId?: string;
  principal?: Principal;
}

/** The authenticated principal of a request that passed the AuthGuard. */
export function principalOf(request: ApiRequest): Principal {
  const principal = request.principal;
  if (!principal) throw new Error('no principal on the request: is the AuthGuard installed?');
  return principal;
}

/** The authenticated principal's name, for the actor of the events a request appends. */
export const Actor = createParamDecorator(
  (_data: unknown, context: ExecutionContext): string =>
    principalOf(context.switchToHttp().getRequest<ApiRequest>()).name,
);
