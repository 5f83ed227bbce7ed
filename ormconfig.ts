import 'reflect-metadata';
import { loadConfig } from '@artifactstore/config';
import { dataSourceOptions } from '@artifactstore/db';
import { DataSource } from 'typeorm';

/**
 * The DataSource for TypeORM's own CLI, on the configured database, e.g.
 * `npx typeorm migration:show -d dist/ormconfig.js` after `npm run build`. The server and `npm run migrate` do not
 * need it; they build the same options through @artifactstore/db.
 */
export default new DataSource(dataSourceOptions(loadConfig(process.env)));
