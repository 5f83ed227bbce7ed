import { Logger } from '@nestjs/common';
import pg from 'pg';

/** The PostgreSQL channel on which every append transaction notifies (delivered at commit). */
export const EVENTS_CHANNEL = 'artifactstore_events';

/**
 * One dedicated LISTEN connection per process, started by the first tail and kept until shutdown. If it fails,
 * tails fall back to polling and the next tail to start reconnects it.
 */
export class PgListener {
  private readonly logger = new Logger('PgListener');
  private client: pg.Client | undefined;
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly onNotify: () => void,
  ) {}

  ensureStarted(): Promise<void> {
    if (this.client || this.closed) return Promise.resolve();
    this.starting ??= this.start().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.starting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async start(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.url,
      application_name: 'artifactstore-listen',
      connectionTimeoutMillis: 5_000,
    });
    client.on('notification', () => {
      this.onNotify();
    });
    client.on('error', (error) => {
      this.logger.warn(`LISTEN connection failed, tails poll until it is back: ${error.message}`);
      if (this.client === client) this.client = undefined;
      client.end().catch(() => undefined);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.client = client;
    } catch (error) {
      this.logger.warn(`cannot LISTEN, tails poll instead: ${String(error)}`);
      await client.end().catch(() => undefined);
    }
  }
}
