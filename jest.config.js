// Jest runs in ESM mode (NestJS 12 is ESM-only): `npm test` starts node with --experimental-vm-modules.
// Tiers (STYLE.md §12): *.spec.ts beside the code, test/integration/*.int-spec.ts, test/e2e/*.e2e-spec.ts.
const libs = ['config', 'db', 'codec', 'events', 'views', 'dataplane', 'registry', 'api'];

/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  testMatch: ['<rootDir>/**/*.spec.ts', '<rootDir>/test/**/*.int-spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  moduleNameMapper: {
    ...Object.fromEntries(
      libs.map((lib) => [`^@artifactstore/${lib}$`, `<rootDir>/libs/${lib}/src/index.ts`]),
    ),
    '^@artifactstore/registry/rules$': '<rootDir>/libs/registry/src/rules.ts',
    '^@artifactstore/server$': '<rootDir>/apps/server/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }],
  },
  globalSetup: '<rootDir>/test/support/global-setup.js',
  testTimeout: 60_000,
  maxWorkers: 2,
};
