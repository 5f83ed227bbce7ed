/** One part of a multipart/form-data body; every string is sent as its UTF-8 bytes, unaltered. */
export interface FormPart {
  readonly name: string | Buffer;
  readonly filename?: string | Buffer;
  readonly contentType?: string | Buffer;
  readonly data: Buffer;
}

/**
 * A multipart/form-data body (RFC 7578) built by hand, so that a test can send exactly the bytes it wants in
 * names, filenames and part headers; `closed: false` leaves out the closing delimiter (a form cut short).
 */
export function multipartForm(parts: readonly FormPart[], boundary: string, closed = true): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="`),
      Buffer.from(part.name),
    );
    if (part.filename !== undefined) chunks.push(Buffer.from('"; filename="'), Buffer.from(part.filename));
    chunks.push(Buffer.from('"\r\n'));
    if (part.contentType !== undefined) {
      chunks.push(Buffer.from('Content-Type: '), Buffer.from(part.contentType), Buffer.from('\r\n'));
    }
    chunks.push(Buffer.from('\r\n'), part.data, Buffer.from('\r\n'));
  }
  if (closed) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}
