import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { formatVerifierKey, rawEd25519PublicKey, signNote } from '@artifactstore/codec';
import type { AppConfig } from '@artifactstore/config';

/** Files of the default key and origin, in the data folder. */
export const LOG_KEY_FILE_NAME = 'log-key.pem';
export const LOG_ORIGIN_FILE_NAME = 'log-origin';

/**
 * The key that signs the transparency log's checkpoints, and the log's origin (also the key's name, as C2SP
 * tlog-checkpoint asks). From ARTIFACTSTORE_LOG_KEY_FILE and ARTIFACTSTORE_LOG_ORIGIN; without them, from files in
 * the data folder, created on first start, so that every store is transparent from its first event.
 */
export class LogSigningKey {
  /** The verifier key in the signed-note format: `<origin>+<key id>+<base64(0x01 ‖ public key)>`. */
  readonly verifierKey: string;

  private constructor(
    readonly origin: string,
    private readonly privateKey: KeyObject,
  ) {
    this.verifierKey = formatVerifierKey(origin, rawEd25519PublicKey(privateKey));
  }

  static load(config: AppConfig): LogSigningKey {
    const keyFile = config.logKeyFile === '' ? join(config.dataDir, LOG_KEY_FILE_NAME) : config.logKeyFile;
    if (config.logKeyFile === '') {
      createOnce(keyFile, () =>
        generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      );
    }
    const originFile = join(config.dataDir, LOG_ORIGIN_FILE_NAME);
    if (config.logOrigin === '')
      createOnce(originFile, () => `artifactstore/${randomBytes(12).toString('hex')}\n`);
    const origin = config.logOrigin === '' ? readFileSync(originFile, 'utf8').trim() : config.logOrigin;
    return new LogSigningKey(origin, createPrivateKey(readFileSync(keyFile, 'utf8')));
  }

  /** The signed note of a checkpoint body; Ed25519 is deterministic, so the same body always signs the same. */
  sign(body: string): string {
    return signNote(body, this.origin, this.privateKey);
  }
}

/**
 * Writes `path` with `content()` unless it exists, atomically and at most once even when two processes start
 * together: the content goes to a private temporary file first, which is then hard-linked into place (a link
 * never replaces a file, so the loser of a race keeps the winner's key).
 */
function createOnce(path: string, content: () => string): void {
  try {
    readFileSync(path);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(join(path, '..'), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    writeSync(fd, content());
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
}
