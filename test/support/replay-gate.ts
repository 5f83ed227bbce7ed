import { Database, type Tx } from '@artifactstore/db';
import type { Event } from '@artifactstore/events';
import { RegistryViewWriter, ViewProjector } from '@artifactstore/views';
import type { ApiHarness } from './api-harness.js';
import { Gate, intercept } from './gc-gate.js';
import { packageCreated } from './sample-events.js';

/** Appends `count` package creations to the server's log, 500 per transaction. */
export async function growLog(api: ApiHarness, count: number): Promise<void> {
  const database = api.app.get(Database);
  const projector = api.app.get(ViewProjector);
  for (let done = 0; done < count; done += 500) {
    await database.write(async (tx) => {
      for (let i = 0; i < Math.min(500, count - done); i++)
        await projector.appendAndApply(tx, packageCreated());
    });
  }
}

/** Holds the server's replay before its `batch`-th batch of events (1-based) until the gate is released. */
export function holdReplayAtBatch(api: ApiHarness, batch: number) {
  let calls = 0;
  const gate = new Gate<[Tx, readonly Event[]]>(() => ++calls === batch);
  const interception = intercept(
    api.app.get(RegistryViewWriter),
    'applyBatch',
    (original) => async (tx, events) => {
      await gate.pass(tx, events);
      await original(tx, events);
    },
  );
  return { gate, interception };
}
