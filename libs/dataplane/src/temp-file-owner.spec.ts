import {
  parseTempFileName,
  tempFileName,
  tempFileOwnerIsGone,
  type TempFileOwner,
} from './temp-file-owner.js';

const owner: TempFileOwner = {
  host: '0123456789abcdef',
  boot: '55ee6f5c65fd41d2b4dcb6fbf6c92f70',
  pid: 4242,
  startTime: '881080',
};

describe('temp file names', () => {
  it('record their owner and parse back to it; each name is new', () => {
    const name = tempFileName(owner);
    expect(name).toMatch(/^0123456789abcdef-55ee6f5c65fd41d2b4dcb6fbf6c92f70-4242-881080-[0-9a-f]{16}\.tmp$/);
    expect(parseTempFileName(name)).toEqual(owner);
    expect(tempFileName(owner)).not.toBe(name);
  });

  it('are a bare UUID without an owner (no /proc), and then record none', () => {
    const name = tempFileName(undefined);
    expect(name).toMatch(/^[0-9a-f-]{36}\.tmp$/);
    expect(parseTempFileName(name)).toBeUndefined();
  });

  it.each([
    ['pid 0 (kill would signal the process group)', `${owner.host}-${owner.boot}-0-1-0123456789abcdef.tmp`],
    ['a pid above pid_max', `${owner.host}-${owner.boot}-4194305-1-0123456789abcdef.tmp`],
    ['a negative pid', `${owner.host}-${owner.boot}--1-1-0123456789abcdef.tmp`],
    ['capitals', `${owner.host.toUpperCase()}-${owner.boot}-12-1-0123456789abcdef.tmp`],
    ['another suffix', `${owner.host}-${owner.boot}-12-1-0123456789abcdef.part`],
  ])('record no owner with %s', (_label, name) => {
    expect(parseTempFileName(name)).toBeUndefined();
  });

  it('never prove an owner gone without this process to compare with (no /proc), nor for other names', async () => {
    const name = tempFileName({ ...owner, boot: '0'.repeat(32) });
    await expect(tempFileOwnerIsGone(name, undefined)).resolves.toBe(false);
    await expect(tempFileOwnerIsGone(name, owner)).resolves.toBe(true);
    await expect(tempFileOwnerIsGone('upload.tmp', owner)).resolves.toBe(false);
    await expect(tempFileOwnerIsGone(tempFileName({ ...owner, host: 'f'.repeat(16) }), owner)).resolves.toBe(
      false,
    );
  });
});
