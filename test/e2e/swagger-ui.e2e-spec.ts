import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createScratchSqlite } from '../support/scratch-database.js';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { binary } from '../support/http-helpers.js';
import type { TestDatabase } from '../support/test-databases.js';

/** Debian's chromium, which .ci/run installs; the flags are the ones that run headless on this kind of machine. */
const CHROMIUM = process.env.ARTIFACTSTORE_TEST_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (process.env.CI) throw new Error(`CI must run the browser test: no Chromium at ${CHROMIUM}`);
  console.warn(`Swagger UI browser test NOT RUN: no Chromium at ${CHROMIUM} (apt-get install chromium).`);
}

/** Opens an operation of Swagger UI and switches it to "Try it out". */
async function tryOut(page: Page, operationId: string): Promise<ReturnType<Page['locator']>> {
  const operation = page.locator(`#operations-${operationId}`);
  await operation.locator('.opblock-summary').first().click();
  await operation.locator('button.try-out__btn').click();
  return operation;
}

async function execute(operation: ReturnType<Page['locator']>): Promise<string> {
  await operation.locator('button.execute').click();
  const status = operation.locator('.live-responses-table .response .response-col_status').first();
  await status.waitFor({ timeout: 30_000 });
  return (await status.innerText()).trim();
}

describe('Swagger UI assets', () => {
  let testDatabase: TestDatabase;
  let api: ApiHarness;

  beforeAll(async () => {
    testDatabase = await createScratchSqlite();
    api = await startApi(testDatabase);
  });

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
  });

  it('serves the page and every script and stylesheet it names, each with charset=utf-8', async () => {
    const page = await api.http().get('/docs').expect(200);
    const assets = [...page.text.matchAll(/(?:src|href)="\.?\/?([^"]+\.(?:js|css))"/g)].map(
      (match) => match[1],
    );
    expect(assets.length).toBeGreaterThan(2);
    for (const asset of assets) {
      const response = await api.http().get(`/${asset}`).expect(200);
      expect(`${asset}: ${response.headers['content-type']}`).toMatch(/: [a-z/]+; charset=utf-8$/);
    }
  });
});

if (haveChromium)
  describe('Swagger UI in a real browser', () => {
    let testDatabase: TestDatabase;
    let api: ApiHarness;
    let browser: Browser;

    beforeAll(async () => {
      testDatabase = await createScratchSqlite();
      api = await startApi(testDatabase);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    });

    afterAll(async () => {
      await browser.close();
      await api.close();
      await testDatabase.dispose();
    });

    it('creates a package and uploads a file through the forms; the file downloads byte for byte', async () => {
      const page = await browser.newPage();
      const failed: string[] = [];
      page.on('requestfailed', (request) => failed.push(request.url()));
      await page.goto(`${api.url}/docs`);
      await page.locator('.swagger-ui .information-container').waitFor({ timeout: 30_000 });
      expect(failed).toEqual([]);

      const name = `swagger-${randomBytes(4).toString('hex')}`;
      const create = await tryOut(page, 'packages-PackagesController_create');
      await create
        .locator('textarea.body-param__text')
        .fill(
          JSON.stringify({ name, producer: 'browser', subject: 'swagger-ui', retention_class: 'standard' }),
        );
      expect(await execute(create)).toBe('201');

      const listed = await api.http().get('/v1/packages').query({ name }).expect(200);
      const [pkg] = (listed.body as { items: { id: string; name: string }[] }).items;
      expect(pkg?.name).toBe(name);

      const content = randomBytes(200_000);
      const upload = await tryOut(page, 'packages-PackagesController_uploadForm');
      await upload.locator('tr[data-param-name="id"] input').fill(pkg!.id);
      await upload.locator('input[type="file"]').setInputFiles({
        name: 'from browser.bin',
        mimeType: 'application/x-test',
        buffer: content,
      });
      expect(await execute(upload)).toBe('201');

      const files = await api.http().get(`/v1/packages/${pkg!.id}/files`).expect(200);
      const [file] = (files.body as { items: { id: string; relative_path: string; media_type: string }[] })
        .items;
      expect(file).toMatchObject({ relative_path: 'from browser.bin', media_type: 'application/x-test' });
      const download = await api.http().get(`/v1/files/${file!.id}`).buffer(true).parse(binary).expect(200);
      expect((download.body as Buffer).equals(content)).toBe(true);
      await page.close();
    });
  });
