import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const DTO_FOLDER = join('libs', 'api', 'src', 'dto');

/** `CreatePackageDto` → `create-package.dto.ts` (STYLE.md §4: one main export per file, named for it). */
const fileNameOf = (dtoClass: string): string =>
  `${dtoClass
    .replace(/Dto$/, '')
    .replace(/(?<!^)([A-Z])/g, '-$1')
    .toLowerCase()}.dto.ts`;

describe('the DTO files', () => {
  it('hold one DTO each, in a file named after it', async () => {
    const files = (await readdir(DTO_FOLDER)).filter((name) => name.endsWith('.dto.ts')).sort();
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const source = await readFile(join(DTO_FOLDER, file), 'utf8');
      const classes = [...source.matchAll(/^export class (\w+)/gm)].map((match) => match[1] ?? '');
      expect([file, classes.map(fileNameOf)]).toEqual([file, [file]]);
    }
  });
});
