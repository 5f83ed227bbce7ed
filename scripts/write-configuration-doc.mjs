// Writes docs/configuration.md from the configuration table (libs/config/src/config.schema.ts), formatted as the
// repo formats Markdown. `npm run docs:config`; a test fails when the committed file differs from this output.
import { writeFileSync } from 'node:fs';
import { URL } from 'node:url';
import { format, resolveConfig } from 'prettier';

// The built config lib (npm run docs:config builds first): a script has no path aliases.
const { configurationReference } = await import(
  new URL('../dist/libs/config/src/index.js', import.meta.url).href
);

const path = 'docs/configuration.md';
const options = { ...(await resolveConfig(path)), parser: 'markdown' };
writeFileSync(path, await format(configurationReference(), options));
console.log(`wrote ${path}`);
