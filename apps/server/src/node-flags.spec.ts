import { readFile } from 'node:fs/promises';
import { hasOldSpaceFloor, SERVER_NODE_FLAGS } from './node-flags.js';

describe('hasOldSpaceFloor', () => {
  it.each([
    [['--initial-old-space-size=256'], true],
    [['--enable-source-maps', '--initial-old-space-size', '512'], true],
    [['--initial-heap-size=300'], true],
    [[], false],
    [['--max-old-space-size=4096'], false],
    [['--initial-old-space-sizes=1'], false],
  ])('%j → %s', (execArgv, expected) => {
    expect(hasOldSpaceFloor(execArgv)).toBe(expected);
  });
});

describe('SERVER_NODE_FLAGS', () => {
  it('are on every command line we ship that runs the server: npm start, npm run bench, the image', async () => {
    const { scripts } = JSON.parse(await readFile('package.json', 'utf8')) as {
      scripts: Record<string, string>;
    };
    const flags = SERVER_NODE_FLAGS.join(' ');
    expect(scripts.start).toBe(`node ${flags} dist/apps/cli/src/main.js serve`);
    expect(scripts.bench).toContain(`node ${flags} dist/bench/run.js`);
    const dockerfile = await readFile('docker/Dockerfile', 'utf8');
    const entrypoint = /^ENTRYPOINT (.*)$/m.exec(dockerfile)?.[1] ?? '[]';
    expect(JSON.parse(entrypoint)).toEqual(['node', ...SERVER_NODE_FLAGS, 'dist/apps/cli/src/main.js']);
  });
});
