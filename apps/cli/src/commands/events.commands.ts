import type { ArtifactClient, EventJson } from '../artifact-client.js';

/**
 * `tail [--since N] [--follow]`: the events after N, then exit; with `--follow`, keep printing them as they
 * commit until interrupted. `--json` prints one JSON object per line.
 */
export async function tail(
  client: ArtifactClient,
  options: { since: number; follow: boolean; json?: boolean },
): Promise<void> {
  const stop = new AbortController();
  const interrupt = (): void => {
    stop.abort();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    for await (const event of client.events(options.since, { follow: options.follow, signal: stop.signal })) {
      process.stdout.write(options.json ? `${JSON.stringify(event)}\n` : `${describeEvent(event)}\n`);
    }
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

function describeEvent(event: EventJson): string {
  return `${event.sequence}  ${event.created_at}  ${event.event_type}  ${event.subject_kind}/${event.subject_id}  ${event.actor}`;
}
