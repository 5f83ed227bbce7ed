import { join } from 'node:path';
import { CliError } from '../cli.errors.js';
import { targetPath } from './pull.command.js';

describe('targetPath', () => {
  const root = '/tmp/pull-root';

  it('places a manifest path under the directory', () => {
    expect(targetPath(root, 'a/b/ü.txt')).toBe(join(root, 'a', 'b', 'ü.txt'));
  });

  it.each(['../escape', 'a/../../escape', '/etc/passwd', 'a//b', './a', 'a\\..\\b', 'a/\0'])(
    'refuses %j, which could land outside the directory',
    (path) => {
      expect(() => targetPath(root, path)).toThrow(CliError);
      try {
        targetPath(root, path);
      } catch (error) {
        expect((error as CliError).exitStatus).toBe(4);
      }
    },
  );
});
