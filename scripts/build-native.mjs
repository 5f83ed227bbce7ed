// Builds the one native addon, libs/dataplane/native (huge pages for the downloads' read buffers; ADR 0010), with
// the node-gyp npm ships. Run by `npm ci` / `npm install` as the package's install script.
//
// Without a C toolchain the server still works: downloads then read into buffers of ordinary pages, which is
// slower on some machines (docs/benchmarks.md). So a failed build warns and exits 0, unless
// NATIVE_ADDON_REQUIRED=1 (set by .ci/run and the Docker build), where it fails the install.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, URL } from 'node:url';

const directory = fileURLToPath(new URL('../libs/dataplane/native', import.meta.url));
// Inside an npm script npm names its own node-gyp; run by hand, the one on PATH.
const nodeGyp = process.env.npm_config_node_gyp;
const [command, args] = nodeGyp ? [process.execPath, [nodeGyp]] : ['node-gyp', []];
const result = spawnSync(command, [...args, 'rebuild', '--loglevel=warn', `--directory=${directory}`], {
  stdio: 'inherit',
});
if (result.status !== 0) {
  const why = result.error ? result.error.message : `node-gyp exited ${result.status ?? result.signal}`;
  if (process.env.NATIVE_ADDON_REQUIRED === '1') {
    console.error(`artifactstore: the native addon did not build (${why})`);
    process.exit(1);
  }
  console.warn(
    `artifactstore: the native addon did not build (${why}); downloads will read into ordinary pages`,
  );
}
