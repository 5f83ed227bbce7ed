import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { finalize, type Observable } from 'rxjs';
import { RequestDrain } from './request-drain.js';

/** Keeps a request in flight until its handler settles, even after its connection was cut. */
@Injectable()
export class RequestDrainInterceptor implements NestInterceptor {
  constructor(private readonly drain: RequestDrain) {}

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const end = this.drain.begin();
    return next.handle().pipe(finalize(end));
  }
}
