import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * STYLE.md §1–3 as a test: each lib is imported only through its front door, and the arrows between libs point
 * one way (api → registry → (dataplane, events → views) → db). A lib missing from ALLOWED may import no other lib.
 */
const ALLOWED: Record<string, readonly string[]> = {
  config: [],
  codec: [],
  db: ['config', 'codec'],
  events: ['config', 'codec', 'db'],
  views: ['config', 'codec', 'db', 'events'],
  dataplane: ['config', 'codec'],
  registry: ['config', 'codec', 'db', 'events', 'views', 'dataplane'],
  api: ['config', 'codec', 'registry'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map(
    (match) => match[1] ?? '',
  );
}

describe('architecture', () => {
  const libs = readdirSync('libs');

  it('knows every lib', () => {
    expect([...libs].sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it.each(libs)('libs/%s imports only the libs below it, through their front doors', (lib) => {
    const problems: string[] = [];
    for (const file of sourceFiles(join('libs', lib, 'src'))) {
      for (const specifier of importsOf(file)) {
        const alias = /^@artifactstore\/([^/]+)(\/.*)?$/.exec(specifier);
        if (alias) {
          const [, target = '', deep] = alias;
          if (deep) problems.push(`${relative('.', file)}: deep import ${specifier}`);
          if (target !== lib && !(ALLOWED[lib] ?? []).includes(target)) {
            problems.push(`${relative('.', file)}: ${lib} must not import ${target}`);
          }
        } else if (specifier.startsWith('.') && /\/(libs|apps)\/|\/src\//.test(specifier)) {
          problems.push(`${relative('.', file)}: relative import across libs ${specifier}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
