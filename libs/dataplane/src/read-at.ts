import type { FileHandle } from 'node:fs/promises';

/** Reads `length` bytes at `position` into the start of `buffer`, fewer only at the end of the file; returns how many. */
export async function readAt(
  handle: FileHandle,
  buffer: Buffer,
  length: number,
  position: number,
): Promise<number> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}
