import type { ArtifactClient, EventJson } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import { printResult } from '../output.js';

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

/** `replay` (admin): rebuild the views from the log, with the state digests before and after. */
export async function replay(client: ArtifactClient, json: boolean | undefined): Promise<void> {
  const result = await client.replay();
  printResult(json, result, () =>
    [
      `replayed through event ${result.highest_sequence}`,
      `state digest before  ${result.state_digest_before}`,
      `state digest after   ${result.state_digest_after}`,
      result.identical
        ? 'the views were already exact'
        : 'the views had drifted and were rebuilt from the log',
    ].join('\n'),
  );
}

/** `check` (admin): verify every payload and chain digest of the log; exit 4 when one is wrong. */
export async function check(client: ArtifactClient, json: boolean | undefined): Promise<void> {
  const result = await client.checkChain();
  printResult(json, result, () =>
    result.ok
      ? `event chain intact: ${result.events_checked} events checked`
      : `event chain BROKEN at event ${result.first_bad_sequence ?? '?'} (${result.events_checked} checked)`,
  );
  if (!result.ok) {
    throw new CliError(
      'chain_broken',
      `the event log is damaged at event ${result.first_bad_sequence ?? '?'}`,
    );
  }
}
