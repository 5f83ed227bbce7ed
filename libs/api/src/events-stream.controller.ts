import { once } from 'node:events';
import { Controller, Get, Headers, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { AppConfig } from '@artifactstore/config';
import { Registry, TailOverrunError, eventJson } from '@artifactstore/registry';
import { ApiProblems } from './api-problems.decorator.js';
import { onClientGone } from './client-gone.js';
import type { ApiRequest } from './principal.js';
import { HttpProblem } from './problem.js';
import { onlyKnownParameters, queryInteger } from './query-values.js';
import { WaitingClients } from './waiting-clients.js';
import { ANY_ROLE, Roles } from './auth.guard.js';

@ApiTags('events')
@ApiBearerAuth()
@ApiProblems('unauthorized', 'forbidden')
@Roles(...ANY_ROLE)
@Controller('v1/events')
export class EventsStreamController {
  constructor(
    private readonly registry: Registry,
    private readonly waitingClients: WaitingClients,
    private readonly config: AppConfig,
  ) {}

  /**
   * Server-Sent Events: every event after `since` (or after `Last-Event-ID`, which wins, so a reconnecting
   * EventSource resumes where it stopped), then each one as it commits. `id:` is the sequence, `event:` the event
   * type, `data:` the event as JSON; a comment line every ARTIFACTSTORE_SSE_HEARTBEAT_SECONDS keeps proxies from
   * closing an idle stream. Writes wait for the client (back-pressure), so a slow reader cannot grow the buffer.
   *
   * HEAD is GET without the body (RFC 9110 §9.3.2): the same checks, status and headers, then the end at once. A
   * stream has no end, so a HEAD that started one would hold its connection open for nothing.
   */
  @Get('stream')
  @ApiOperation({
    summary: 'The event log as Server-Sent Events, from `since` (or Last-Event-ID) on',
    description:
      'HEAD answers the status and headers a GET would get (200 or the same problem) and ends at once, ' +
      'without holding a place among the waiting clients.',
  })
  @ApiQuery({ name: 'since', required: false, type: Number, description: '≥ 0, default 0' })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Wins over `since`.' })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({
    description: '`id:` sequence, `event:` event type, `data:` the event as in GET /v1/events.',
  })
  @ApiProblems('invalid_input', 'service_unavailable')
  async stream(
    @Query() query: Record<string, unknown>,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() request: ApiRequest,
    @Res() response: Response,
  ): Promise<void> {
    onlyKnownParameters(query, ['since']);
    let since: number;
    if (lastEventId === undefined) since = queryInteger(query, 'since', 0, Number.MAX_SAFE_INTEGER, 0);
    else {
      if (!/^\d{1,15}$/.test(lastEventId.trim())) {
        throw new HttpProblem(
          'invalid_input',
          'Last-Event-ID must be an event sequence',
          {},
          { field: 'Last-Event-ID' },
        );
      }
      since = Number(lastEventId.trim());
    }
    if (request.method === 'HEAD') {
      // Taken and given back at once: a full server answers this HEAD with the 503 the GET would get.
      this.waitingClients.acquire('event_stream').release();
      setStreamHeaders(response);
      response.end();
      return;
    }
    const lease = this.waitingClients.acquire('event_stream');
    const stop = new AbortController();
    const end = (): void => {
      stop.abort();
    };
    const stopListening = onClientGone(response, end);
    lease.signal.addEventListener('abort', end);
    if (lease.signal.aborted) end();
    setStreamHeaders(response);
    response.flushHeaders();
    const heartbeat = setInterval(() => {
      // A stream waiting for the client to drain is not idle; adding to its buffer would only grow it.
      if (!response.writableNeedDrain) response.write(': heartbeat\n\n');
    }, this.config.sseHeartbeatSeconds * 1000);
    try {
      for await (const batch of this.registry.tailEventBatches(since, { signal: stop.signal })) {
        const frames = batch.map(
          (event) =>
            `id: ${event.sequence}\nevent: ${event.event_type}\ndata: ${JSON.stringify(eventJson(event))}\n\n`,
        );
        if (!response.write(frames.join(''))) {
          // With the signal, an abort ends the wait and no listener outlives it.
          await once(response, 'drain', { signal: stop.signal }).catch(() => undefined);
        }
        if (stop.signal.aborted) break;
      }
    } catch (error) {
      if (!(error instanceof TailOverrunError)) throw error;
      // Too slow a reader: end the stream, saying so; an EventSource reconnects with Last-Event-ID and reads the
      // events it missed from the log.
      response.write(`event: overrun\ndata: ${JSON.stringify({ resume_after: error.resumeAfter })}\n\n`);
    } finally {
      clearInterval(heartbeat);
      stopListening();
      lease.signal.removeEventListener('abort', end);
      lease.release();
      if (!response.writableEnded) response.end();
    }
  }
}

function setStreamHeaders(response: Response): void {
  response.status(200);
  response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  response.setHeader('Cache-Control', 'no-cache, no-transform');
  response.setHeader('X-Accel-Buffering', 'no');
}
