import type { FileHandle } from 'node:fs/promises';
import { DIRECT_IO_ALIGNMENT } from './direct-io.js';

/**
 * Reads `length` bytes at `position` into the start of `buffer`, fewer only at the end of the file; returns how
 * many. With `direct` (a handle opened with O_DIRECT) the transfer is rounded up to whole blocks: `buffer` must be
 * page-aligned and hold them, and `position` must be aligned; a direct read that stops short of a block boundary
 * has met the end of the file.
 */
export async function readAt(
  handle: FileHandle,
  buffer: Buffer,
  length: number,
  position: number,
  direct: boolean,
): Promise<number> {
  const wanted = direct ? Math.ceil(length / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT : length;
  let filled = 0;
  while (filled < wanted && (!direct || filled % DIRECT_IO_ALIGNMENT === 0)) {
    const { bytesRead } = await handle.read(buffer, filled, wanted - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return Math.min(filled, length);
}
