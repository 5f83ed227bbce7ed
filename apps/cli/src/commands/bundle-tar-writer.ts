import { encodeTarHeader, TAR_END, tarPadding } from './bundle-tar-header.js';

/**
 * One tar entry as the chunks that go out: its header, its data and the zeros that pad it to a block. The size is
 * known before the data (a bundle takes it from the manifest), so the header goes first and the data streams
 * through as it comes, never held whole; data of any other length than `size` is an error, thrown before the
 * padding, so the archive is left cut short rather than wrong.
 */
export async function* tarEntry(
  name: string,
  size: number,
  data: Buffer | AsyncIterable<Buffer>,
): AsyncGenerator<Buffer> {
  yield encodeTarHeader(name, size);
  let written = 0;
  for await (const chunk of Buffer.isBuffer(data) ? [data] : data) {
    written += chunk.length;
    if (written > size) throw new Error(`${name}: more than the ${size} bytes announced`);
    if (chunk.length > 0) yield chunk;
  }
  if (written !== size) throw new Error(`${name}: ${written} bytes, not the ${size} announced`);
  const padding = tarPadding(size);
  if (padding > 0) yield Buffer.alloc(padding);
}

/** The end of the archive: two zero blocks, and nothing after them (no padding to a 10 KiB record). */
export function tarEnd(): Buffer {
  return Buffer.from(TAR_END);
}
