import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { BlobChunk } from './blob-store.js';
import { DIRECT_IO_ALIGNMENT, ioBuffers, O_DIRECT } from './direct-io.js';
import { storageError } from './ingest-checks.js';

/** Reads in flight: the device works on the next chunks while the one before is hashed and sent. */
const READS_IN_FLIGHT = 4;

/** A read in flight: the file offset of its first byte, its pooled buffer and how many bytes it filled. */
interface PendingRead {
  readonly offset: number;
  readonly requested: number;
  readonly done: Promise<{ readonly buffer: Buffer; readonly filled: number }>;
}

/**
 * Bytes `start` to `end` (both included) of the file at `path`, read 2 MiB at a time into pooled buffers with up to
 * four reads in flight, each chunk a view of its buffer that goes back to the pool when the chunk is released.
 *
 * With `direct` the file is opened with O_DIRECT: the device fills the pooled buffer itself, and the page cache is
 * neither used nor filled. Reads then start on the 4 KiB block at or below `start` and ask for whole blocks; a read
 * that comes back short has met the end of the file. The file is opened at the first chunk taken and closed, after
 * its reads in flight, when the iteration ends, however it ends; a file that ends before `end` just ends the chunks
 * early (a whole read's verifier then finds it short).
 */
export async function* readFileChunks(
  path: string,
  start: number,
  end: number,
  direct: boolean,
): AsyncGenerator<BlobChunk> {
  const handle = await open(path, constants.O_RDONLY | (direct ? (O_DIRECT ?? 0) : 0)).catch(
    (error: unknown) => {
      throw storageError(`cannot open ${path}`, error);
    },
  );
  const chunkSize = ioBuffers.bufferSize;
  const stop = end + 1;
  let position = direct ? start - (start % DIRECT_IO_ALIGNMENT) : start;
  let ended = false;
  const pending: PendingRead[] = [];
  const startReads = (): void => {
    while (!ended && pending.length < READS_IN_FLIGHT && position < stop) {
      const requested = Math.min(chunkSize, stop - position);
      const done = readInto(handle, position, requested, direct);
      done.catch(() => undefined); // awaited in turn; handled now so that it is never an unhandled rejection
      pending.push({ offset: position, requested, done });
      position += requested;
    }
  };
  try {
    startReads();
    for (let read = pending.shift(); read !== undefined; read = pending.shift()) {
      startReads();
      const { buffer, filled } = await read.done;
      if (filled < read.requested) ended = true;
      const from = Math.max(0, start - read.offset);
      const to = Math.min(filled, stop - read.offset);
      if (to <= from) {
        ioBuffers.give(buffer);
        continue;
      }
      yield {
        bytes: buffer.subarray(from, to),
        release: () => {
          ioBuffers.give(buffer);
        },
      };
    }
  } finally {
    // The file closes only after its reads in flight have settled; their buffers go back.
    await Promise.all(
      pending.map((read) =>
        read.done.then(
          ({ buffer }) => {
            ioBuffers.give(buffer);
          },
          () => undefined,
        ),
      ),
    );
    await handle.close().catch(() => undefined);
  }
}

/**
 * Reads up to `length` bytes at `position` into a pooled buffer, fewer only at the end of the file. With `direct`
 * the request is rounded up to whole blocks, and a read that stops short of a block boundary has met the end.
 */
async function readInto(
  handle: FileHandle,
  position: number,
  length: number,
  direct: boolean,
): Promise<{ buffer: Buffer; filled: number }> {
  const buffer = ioBuffers.take();
  const wanted = direct ? Math.ceil(length / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT : length;
  let filled = 0;
  try {
    while (filled < wanted && (!direct || filled % DIRECT_IO_ALIGNMENT === 0)) {
      const { bytesRead } = await handle.read(buffer, filled, wanted - filled, position + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
  } catch (error) {
    ioBuffers.give(buffer);
    throw storageError('read failed', error);
  }
  return { buffer, filled: Math.min(filled, length) };
}
