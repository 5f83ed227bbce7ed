import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  InvalidNoteError,
  ed25519PublicKeyFromRaw,
  formatCheckpoint,
  formatVerifierKey,
  leafHash,
  noteKeyId,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  rawEd25519PublicKey,
  signNote,
} from './index.js';

// The vectors of golang.org/x/mod sumdb/note/note_test.go (TestNewVerifier, TestSign, TestOpen).
const PETER_KEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PETER_SIGNER_KEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const ENOCH_KEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG =
  '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG =
  '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

// The example of c2sp.org/tlog-checkpoint, signed by a key that is not published with it.
const SOFA_CHECKPOINT =
  'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n' +
  '— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n';

/** A private KeyObject from a Go signer key `PRIVATE+KEY+<name>+<id>+base64(0x01 ‖ 32-byte seed)`. */
function privateKeyFromGoSignerKey(signerKey: string): KeyObject {
  const encoded = Buffer.from(signerKey.split('+').slice(4).join('+'), 'base64');
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), encoded.subarray(1)]);
  return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
}

const freshKey = (): KeyObject => generateKeyPairSync('ed25519').privateKey;
const verifierOf = (name: string, key: KeyObject) =>
  parseVerifierKey(formatVerifierKey(name, rawEd25519PublicKey(key)));

describe('verifier keys', () => {
  it('parses the Go PeterNeumann key and spells it back the same', () => {
    const verifier = parseVerifierKey(PETER_KEY);
    expect(verifier.name).toBe('PeterNeumann');
    expect(verifier.keyId.toString('hex')).toBe('c74f20a3');
    expect(verifier.publicKey.toString('hex')).toBe(
      Buffer.from('ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW', 'base64').subarray(1).toString('hex'),
    );
    expect(noteKeyId(verifier.name, verifier.publicKey).equals(verifier.keyId)).toBe(true);
    expect(formatVerifierKey(verifier.name, verifier.publicKey)).toBe(PETER_KEY);
    expect(parseVerifierKey(ENOCH_KEY).keyId.toString('hex')).toBe('af0cfe78');
  });

  it('refuses every truncation and every single-character change of a good key (as the Go test does)', () => {
    const accepted: string[] = [];
    const attempt = (text: string): void => {
      try {
        parseVerifierKey(text);
        accepted.push(text);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidNoteError);
      }
    };
    for (let i = 0; i <= PETER_KEY.length; i += 1) {
      for (let j = i + 1; j <= PETER_KEY.length; j += 1)
        if (i !== 0 || j !== PETER_KEY.length) attempt(PETER_KEY.slice(i, j));
    }
    for (let i = 0; i < PETER_KEY.length; i += 1) {
      attempt(
        PETER_KEY.slice(0, i) + String.fromCharCode(PETER_KEY.charCodeAt(i) + 1) + PETER_KEY.slice(i + 1),
      );
    }
    expect(accepted).toEqual([]);
  });

  it('says why a key with a correct key id is still refused', () => {
    // Go's vectors: an unknown algorithm byte, and a longer key, each with its key id recomputed to match. The second
    // ends in non-canonical base64 ("EY==" has stray low bits), which Go tolerates and this parser does not.
    expect(() =>
      parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'),
    ).toThrow(/unsupported verifier key type 0x65/);
    expect(() =>
      parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='),
    ).toThrow(InvalidNoteError);
    const short = Buffer.concat([Buffer.of(1), Buffer.alloc(31, 9)]);
    const id = createHash('sha256').update('short\n').update(short).digest().subarray(0, 4).toString('hex');
    expect(() => parseVerifierKey(`short+${id}+${short.toString('base64')}`)).toThrow(/32 bytes, got 31/);
  });

  it.each([
    ['no separators', 'PeterNeumann'],
    ['empty name', '+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'],
    ['space in name', 'Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'],
    ['no-break space in name', 'Peter\u00a0Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'],
    ['short key id', 'PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'],
    ['wrong key id', 'PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'],
    ['unpadded base64', 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T'],
    ['url-safe base64', 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW'],
    ['empty key', 'PeterNeumann+c74f20a3+'],
  ])('refuses a key with %s', (_, text) => {
    expect(() => parseVerifierKey(text)).toThrow(InvalidNoteError);
  });

  it('converts between KeyObjects and raw public keys', () => {
    const key = freshKey();
    const raw = rawEd25519PublicKey(key);
    expect(raw).toHaveLength(32);
    expect(rawEd25519PublicKey(ed25519PublicKeyFromRaw(raw)).equals(raw)).toBe(true);
    expect(() => ed25519PublicKeyFromRaw(raw.subarray(1))).toThrow(InvalidNoteError);
    expect(() => rawEd25519PublicKey(generateKeyPairSync('x25519').publicKey)).toThrow(TypeError);
    expect(() => formatVerifierKey('a+b', raw)).toThrow(InvalidNoteError);
    expect(() => noteKeyId('a', raw.subarray(2))).toThrow(InvalidNoteError);
  });
});

describe('signNote', () => {
  const peter = privateKeyFromGoSignerKey(PETER_SIGNER_KEY);

  it('signs exactly as the Go note package does', () => {
    expect(formatVerifierKey('PeterNeumann', rawEd25519PublicKey(peter))).toBe(PETER_KEY);
    expect(signNote(TEXT, 'PeterNeumann', peter)).toBe(`${TEXT}\n${PETER_SIG}`);
  });

  it('is deterministic', () => {
    const key = freshKey();
    const text = 'example.org/log\n42\n' + Buffer.alloc(32, 7).toString('base64') + '\n';
    expect(signNote(text, 'example.org/log', key)).toBe(signNote(text, 'example.org/log', key));
  });

  it.each([
    ['empty text', '', 'a'],
    ['text without final newline', 'abc', 'a'],
    ['text with NUL', 'a\0b\n', 'a'],
    ['text with carriage return', 'a\r\n', 'a'],
    ['text with a lone surrogate', 'a\ud800\n', 'a'],
    ['empty name', 'a\n', ''],
    ['name with plus', 'a\n', 'a+b'],
    ['name with space', 'a\n', 'a b'],
    ['name with line separator', 'a\n', 'a\u2028b'],
  ])('refuses %s', (_, text, name) => {
    expect(() => signNote(text, name, peter)).toThrow(InvalidNoteError);
  });

  it('refuses keys that cannot sign', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    expect(() => signNote('a\n', 'a', publicKey)).toThrow(TypeError);
    expect(() => signNote('a\n', 'a', generateKeyPairSync('x25519').privateKey)).toThrow(TypeError);
  });
});

describe('openNote', () => {
  const peter = parseVerifierKey(PETER_KEY);
  const enoch = parseVerifierKey(ENOCH_KEY);
  const twoSigned = `${TEXT}\n${PETER_SIG}${ENOCH_SIG}`;

  it('opens the Go note with either of its signers, ignoring the other signature', () => {
    expect(openNote(twoSigned, peter)).toEqual({ text: TEXT });
    expect(openNote(twoSigned, enoch)).toEqual({ text: TEXT });
    expect(openNote(`${TEXT}\n${PETER_SIG}${PETER_SIG}${ENOCH_SIG}${ENOCH_SIG}`, peter)).toEqual({
      text: TEXT,
    });
  });

  it('refuses a note without a signature by the verifier, and says so', () => {
    expect(() => openNote(`${TEXT}\n${ENOCH_SIG}`, peter)).toThrow(
      'note has no signature by key PeterNeumann+c74f20a3',
    );
    // A signature sharing only the name, or only the key id, is another key's: ignored, not failed.
    expect(() => openNote(`${TEXT}\n${PETER_SIG.replace('PeterNeumann', 'CarmenSandiego')}`, peter)).toThrow(
      /no signature by key/,
    );
    expect(() => openNote(`${TEXT}\n${PETER_SIG.replace('x08g', 'xxxx')}`, peter)).toThrow(
      /no signature by key/,
    );
    expect(() => openNote(SOFA_CHECKPOINT, peter)).toThrow(/no signature by key/);
  });

  it('refuses a note whose signature by the verifier is bad, even next to a good one', () => {
    // Go's vector inserts ABCD at byte 60, inside the base64 (the em dash is 3 bytes there, 1 UTF-16 unit here).
    const at = '— PeterNeumann '.length + 43;
    const bad = PETER_SIG.slice(0, at) + 'ABCD' + PETER_SIG.slice(at);
    expect(() => openNote(`${TEXT}\n${bad}`, peter)).toThrow(
      'invalid signature by key PeterNeumann+c74f20a3',
    );
    expect(() => openNote(`${TEXT}\n${PETER_SIG}${bad}`, peter)).toThrow(/invalid signature/);
    const tampered = `${TEXT.replace('cryptography', 'cryptographY')}\n${PETER_SIG}`;
    expect(() => openNote(tampered, peter)).toThrow(/invalid signature/);
  });

  it.each([
    ['text alone', TEXT],
    ['no signature lines', `${TEXT}\n`],
    ['no final newline', `${TEXT}\n${PETER_SIG.slice(0, -1)}`],
    ['a control character', `\u0001${TEXT}\n${PETER_SIG}`],
    ['a carriage return', `${TEXT.replace('\n', '\r\n')}\n${PETER_SIG}`],
    ['a lone surrogate', `\ud800${TEXT}\n${PETER_SIG}`],
    [
      'a name with a space',
      `${TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
    ],
    ['an unexpected line', `${TEXT}\n${PETER_SIG}Unexpected line.\n`],
    ['a hyphen for the em dash', `${TEXT}\n${PETER_SIG.replace('—', '-')}`],
    ['no signature', `${TEXT}\n— PeterNeumann\n`],
    ['a signature of only a key id', `${TEXT}\n— PeterNeumann x08gow==\n`],
    ['malformed base64', `${TEXT}\n— PeterNeumann x08go/ZJkuBS9UG\n`],
    ['too many signatures', `${TEXT}\n${PETER_SIG.repeat(101)}`],
  ])('refuses a note with %s as malformed', (_, note) => {
    expect(() => openNote(note, peter)).toThrow(InvalidNoteError);
  });

  it('round-trips with a fresh key, including text with blank lines', () => {
    const key = freshKey();
    const verifier = verifierOf('example.com/log', key);
    for (const text of ['one line\n', 'a\n\nb\n', '\n', 'trailing blank line\n\n', 'ünïcödé — ✓\n']) {
      expect(openNote(signNote(text, 'example.com/log', key), verifier)).toEqual({ text });
    }
  });

  it('tells apart keys: another key, or the right id with the wrong public key', () => {
    const key = freshKey();
    const note = signNote('hello\n', 'example.com/log', key);
    const other = verifierOf('example.com/log', freshKey());
    expect(() => openNote(note, other)).toThrow(/no signature by key/);
    const impostor = { ...verifierOf('example.com/log', key), publicKey: other.publicKey };
    expect(() => openNote(note, impostor)).toThrow(/invalid signature/);
  });

  it('opens a note cosigned by two keys with either key', () => {
    const [log, witness] = [freshKey(), freshKey()];
    const text = 'example.com/log\n1\n' + leafHash(Buffer.from('x')).toString('base64') + '\n';
    const cosignature = signNote(text, 'witness.example', witness).slice(text.length + 1);
    const note = signNote(text, 'example.com/log', log) + cosignature;
    expect(openNote(note, verifierOf('example.com/log', log)).text).toBe(text);
    expect(openNote(note, verifierOf('witness.example', witness)).text).toBe(text);
  });

  it('throws errors with the stable code', () => {
    try {
      openNote('nonsense', peter);
      throw new Error('unreachable');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidNoteError);
      expect((error as InvalidNoteError).code).toBe('invalid_note');
      expect((error as InvalidNoteError).name).toBe('InvalidNoteError');
    }
  });
});

describe('checkpoints', () => {
  // golang.org/x/mod sumdb/tlog/note_test.go: TestFormatTree / TestParseTree.
  const GO_TREE = 'go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n';

  it('formats and parses the Go tree note', () => {
    const root = leafHash(Buffer.from('hello world'));
    expect(formatCheckpoint({ origin: 'go.sum database tree', size: 123_456_789_012, root })).toBe(GO_TREE);
    expect(parseCheckpoint(GO_TREE)).toEqual({
      origin: 'go.sum database tree',
      size: 123_456_789_012,
      root,
      extensions: [],
    });
  });

  it('parses the C2SP example once opened, and keeps extension lines', () => {
    const text = SOFA_CHECKPOINT.slice(0, SOFA_CHECKPOINT.indexOf('\n\n') + 1);
    const checkpoint = parseCheckpoint(text);
    expect(checkpoint.origin).toBe('example.com/behind-the-sofa');
    expect(checkpoint.size).toBe(20_852_163);
    expect(checkpoint.root.toString('base64')).toBe('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
    expect(parseCheckpoint(`${text}JOE\nextension two\n`).extensions).toEqual(['JOE', 'extension two']);
    expect(parseCheckpoint(`o\n0\n${Buffer.alloc(32).toString('base64')}\n`).size).toBe(0);
  });

  it.each([
    ['a hex size', 'go.sum database tree\n0xabcdef\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n'],
    [
      'a root of the wrong length',
      'go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBTOOBIG=\n',
    ],
    ['a leading zero', 'o\n0123\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n'],
    ['a signed size', 'o\n+1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n'],
    ['a size beyond 2^53', 'o\n9007199254740993\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n'],
    ['non-canonical base64', 'o\n1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb1=\n'],
    ['unpadded base64', 'o\n1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0\n'],
    ['url-safe base64', 'o\n1\nTszzRgjTG6xce-z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n'],
    ['an empty origin', '\n1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n'],
    ['an empty extension line', 'o\n1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n\n'],
    ['two lines', 'o\n1\n'],
    ['no final newline', 'o\n1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0='],
    ['trailing junk', `${GO_TREE}JOE`],
    ['a control character', 'o\t\n1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n'],
  ])('refuses a checkpoint with %s', (_, text) => {
    expect(() => parseCheckpoint(text)).toThrow(InvalidNoteError);
  });

  it('refuses to format what it could not parse', () => {
    const root = Buffer.alloc(32);
    expect(() => formatCheckpoint({ origin: '', size: 1, root })).toThrow(InvalidNoteError);
    expect(() => formatCheckpoint({ origin: 'a\nb', size: 1, root })).toThrow(InvalidNoteError);
    expect(() => formatCheckpoint({ origin: 'a', size: -1, root })).toThrow(InvalidNoteError);
    expect(() => formatCheckpoint({ origin: 'a', size: 1.5, root })).toThrow(InvalidNoteError);
    expect(() => formatCheckpoint({ origin: 'a', size: 1, root: root.subarray(1) })).toThrow(
      InvalidNoteError,
    );
  });

  it('signs, opens and parses a checkpoint end to end', () => {
    const key = freshKey();
    const checkpoint = {
      origin: 'artifactstore.example/log',
      size: 2 ** 40 + 3,
      root: leafHash(Buffer.from('r')),
    };
    const note = signNote(formatCheckpoint(checkpoint), checkpoint.origin, key);
    const { text } = openNote(note, verifierOf(checkpoint.origin, key));
    expect(parseCheckpoint(text)).toEqual({ ...checkpoint, extensions: [] });
  });
});
