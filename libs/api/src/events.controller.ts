import { Controller, Get, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import {
  DEFAULT_PAGE_LIMIT,
  MAX_PAGE_LIMIT,
  Registry,
  eventJson,
  type Event,
  type EventJson,
} from '@artifactstore/registry';
import { ApiProblems } from './api-problems.decorator.js';
import { onClientGone } from './client-gone.js';
import { EventsPageDto } from './dto/events-page.dto.js';
import { HttpProblem } from './problem.js';
import { onlyKnownParameters, queryInteger, queryText } from './query-values.js';
import { WaitingClients } from './waiting-clients.js';
import { ANY_ROLE, Roles } from './auth.guard.js';

export const MAX_WAIT_SECONDS = 60;

@ApiTags('events')
@ApiBearerAuth()
@ApiProblems('unauthorized', 'forbidden')
@Roles(...ANY_ROLE)
@Controller('v1/events')
export class EventsController {
  constructor(
    private readonly registry: Registry,
    private readonly waitingClients: WaitingClients,
  ) {}

  /**
   * Events after `since`, in order. With `wait` > 0 and nothing new, the request is held until an event commits
   * (woken by the event log's tail: at once in this process, by LISTEN/NOTIFY from other processes on PostgreSQL)
   * or the wait ends, or the client leaves, or the server shuts down. Waiting takes one of the
   * ARTIFACTSTORE_MAX_WAITING_CLIENTS places; with none free the answer is 503 with Retry-After.
   */
  @Get()
  @ApiOperation({ summary: 'Events after `since`; with `wait`, a long-poll' })
  @ApiQuery({ name: 'since', required: false, type: Number, description: '≥ 0, default 0' })
  @ApiQuery({ name: 'limit', required: false, type: Number, description: '1–1000, default 100' })
  @ApiQuery({
    name: 'include',
    required: false,
    enum: ['payload'],
    description: "`payload`: each event's canonical CBOR payload too, base64 (`payload_cbor`), for mirrors",
  })
  @ApiQuery({
    name: 'wait',
    required: false,
    type: Number,
    description: 'Seconds to hold the request when nothing is new, 0–60',
  })
  @ApiOkResponse({ type: EventsPageDto })
  @ApiProblems('invalid_input', 'service_unavailable')
  async list(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<{ events: EventJson[]; next_since: number }> {
    onlyKnownParameters(query, ['since', 'limit', 'wait', 'include']);
    const include = queryText(query, 'include');
    if (include !== undefined && include !== 'payload') {
      throw new HttpProblem('invalid_input', 'include must be payload', {}, { field: 'include' });
    }
    const since = queryInteger(query, 'since', 0, Number.MAX_SAFE_INTEGER, 0);
    const limit = queryInteger(query, 'limit', 1, MAX_PAGE_LIMIT, DEFAULT_PAGE_LIMIT);
    const wait = queryInteger(query, 'wait', 0, MAX_WAIT_SECONDS, 0);
    // Listened for before the first await, so that a client leaving while the events are read is not waited for.
    const gone = new AbortController();
    const stopListening = onClientGone(response, () => {
      gone.abort();
    });
    try {
      let events = await this.registry.listEvents(since, limit);
      if (events.length === 0 && wait > 0 && !gone.signal.aborted) {
        events = await this.waitForEvents(since, limit, wait * 1000, gone.signal);
      }
      const includePayload = include === 'payload';
      return {
        events: events.map((event) => eventJson(event, { includePayload })),
        next_since: events.at(-1)?.sequence ?? since,
      };
    } finally {
      stopListening();
    }
  }

  /**
   * Holds a place among the waiting clients until events commit (and returns the first batch the process's tail
   * hands out, with no read of its own), `waitMs` pass, the client goes, or shutdown (an empty list).
   */
  private async waitForEvents(
    since: number,
    limit: number,
    waitMs: number,
    clientGone: AbortSignal,
  ): Promise<Event[]> {
    const lease = this.waitingClients.acquire('long_poll');
    const stop = new AbortController();
    const abort = (): void => {
      stop.abort();
    };
    const timer = setTimeout(abort, waitMs);
    clientGone.addEventListener('abort', abort);
    if (lease.signal.aborted || clientGone.aborted) abort();
    else lease.signal.addEventListener('abort', abort);
    try {
      // The first batch is the answer. return() closes the tail.
      const batches = this.registry.tailEventBatches(since, { signal: stop.signal, maxBatch: limit });
      const tail = batches[Symbol.asyncIterator]();
      try {
        const first = await tail.next();
        return first.done === true ? [] : first.value;
      } finally {
        await tail.return?.();
      }
    } finally {
      clearTimeout(timer);
      clientGone.removeEventListener('abort', abort);
      lease.signal.removeEventListener('abort', abort);
      lease.release();
    }
  }
}
