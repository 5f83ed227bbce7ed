import { CliError } from '../cli.errors.js';
import { decodeTarHeader, isZeroBlock, TAR_BLOCK, tarPadding } from './bundle-tar-header.js';

/** An entry of the archive being read. Its data must be read (or left) before the next entry is asked for. */
export interface TarEntry {
  readonly name: string;
  readonly size: number;
  /** Where its data starts in the archive: a file's entry can be read again from there. */
  readonly dataOffset: number;
  /** Its data, streamed from the archive in the pieces that arrive; each piece is yielded once. */
  readonly data: AsyncIterable<Buffer>;
}

/**
 * Reads a tar stream as a bundle writes it (docs/formats.md, "Bundle"), holding no more than one chunk of it at a
 * time: each header is checked to be exactly a bundle's, and the archive must end with its two zero blocks and
 * then end. An archive cut short, a damaged header, non-zero padding or bytes after the end are refused
 * (`bundle_invalid`, exit 4), each message naming the entry.
 */
export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const input = new ByteQueue(source[Symbol.asyncIterator]());
  let previous: string | undefined;
  const after = (): string => (previous === undefined ? '' : ` after ${previous}`);
  for (;;) {
    const header = await input.read(TAR_BLOCK);
    if (header.length === 0) throw truncated(`the archive ends without its end-of-archive blocks${after()}`);
    if (header.length < TAR_BLOCK)
      throw truncated(`the archive ends inside the header of the entry${after()}`);
    if (isZeroBlock(header)) {
      const second = await input.read(TAR_BLOCK);
      if (second.length < TAR_BLOCK) throw truncated('the archive ends inside its end-of-archive blocks');
      if (!isZeroBlock(second)) {
        throw invalid(`the end-of-archive blocks${after()}`, 'a zero block followed by one that is not');
      }
      if (!(await input.atEnd())) {
        throw invalid('the end of the archive', 'bytes follow the end-of-archive blocks');
      }
      return;
    }
    const { name, size } = decodeTarHeader(header, previous);
    const dataOffset = input.position;
    const shortBy = (got: number): CliError =>
      truncated(`the archive ends inside ${name}, after ${got} of its ${size} bytes`);
    let consumed = 0;
    const data = (async function* (): AsyncGenerator<Buffer> {
      for await (const piece of input.take(size, shortBy)) {
        consumed += piece.length;
        yield piece;
      }
    })();
    yield { name, size, dataOffset, data };
    // What the caller left unread (all of it, when it skipped the entry) is passed over.
    const read = consumed;
    for await (const piece of input.take(size - read, (got) => shortBy(read + got))) {
      consumed += piece.length;
    }
    const padding = await input.read(tarPadding(size));
    if (padding.length < tarPadding(size)) throw truncated(`the archive ends inside the padding of ${name}`);
    if (!isZeroBlock(padding)) throw invalid(name, 'the padding after its data is not zeros');
    previous = name;
  }
}

/** The chunks of a stream, read a given number of bytes at a time, keeping what is left of the last chunk. */
class ByteQueue {
  /** Bytes handed out so far. */
  position = 0;
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;

  constructor(private readonly chunks: AsyncIterator<Buffer>) {}

  /** `count` bytes, or fewer when the stream ends first. */
  async read(count: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let missing = count;
    while (missing > 0) {
      if (this.pending.length === 0 && !(await this.fill())) break;
      const part = this.pending.subarray(0, missing);
      this.pending = this.pending.subarray(part.length);
      parts.push(part);
      missing -= part.length;
    }
    const bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    this.position += bytes.length;
    return bytes;
  }

  /**
   * The next `count` bytes in the pieces they arrive in, each counted as handed out before it is yielded (so a
   * caller that stops early knows how many it took); `shortBy(got)` is thrown when the stream ends first.
   */
  async *take(count: number, shortBy: (got: number) => Error): AsyncGenerator<Buffer> {
    let taken = 0;
    while (taken < count) {
      if (this.pending.length === 0 && !(await this.fill())) throw shortBy(taken);
      const piece = this.pending.subarray(0, count - taken);
      this.pending = this.pending.subarray(piece.length);
      this.position += piece.length;
      taken += piece.length;
      yield piece;
    }
  }

  /** Whether the stream has no byte left. */
  async atEnd(): Promise<boolean> {
    return this.pending.length === 0 && !(await this.fill());
  }

  private async fill(): Promise<boolean> {
    while (!this.ended) {
      const next = await this.chunks.next();
      if (next.done === true) {
        this.ended = true;
        break;
      }
      const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
      if (chunk.length > 0) {
        this.pending = chunk;
        return true;
      }
    }
    return false;
  }
}

function truncated(message: string): CliError {
  return new CliError('bundle_invalid', `truncated archive: ${message}`);
}

function invalid(entry: string, problem: string): CliError {
  return new CliError('bundle_invalid', `${entry}: ${problem}`);
}
