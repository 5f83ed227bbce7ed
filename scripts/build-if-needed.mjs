// Builds dist/ when any source is newer than the last build, so `npm start` works on a fresh clone and stays fast.
import { execSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const STAMP = 'dist/.build-stamp';
const SOURCES = [
  'apps',
  'libs',
  'bench',
  'test/support',
  'ormconfig.ts',
  'tsconfig.json',
  'tsconfig.build.json',
  'package-lock.json',
];

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((max, entry) => Math.max(max, newest(join(path, entry))), stat.mtimeMs);
}

const built = existsSync(STAMP) ? statSync(STAMP).mtimeMs : 0;
const changed = SOURCES.filter(existsSync).some((path) => newest(path) > built);
if (changed) {
  execSync('npm run build --silent', { stdio: 'inherit' });
  writeFileSync(STAMP, new Date().toISOString());
}
