// `npm run test:faults`: the fault suite of test/faults/*.fault-spec.ts (crash loop, database outage, full disks,
// fuzzing). The same transform and module map as jest.config.js, one file at a time (each starts servers and
// clusters of its own, and its timings mean something only when it has the cores), and long timeouts.
// FAULTS_SCALE and FAULTS_SEED tune it (test/support/fault-scale.ts).
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  testMatch: ['<rootDir>/test/faults/**/*.fault-spec.ts'],
  testTimeout: 600_000,
  maxWorkers: 1,
};
