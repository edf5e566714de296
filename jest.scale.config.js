/** @type {import('jest').Config} */
// `npm run test:scale`: the library on real Redis topologies (Cluster, Sentinel, node-redis 5,
// ioredis 6), failovers included. Kept out of `npm test` for its length; `.ci/run` runs both.
const base = require('./jest.config.js');
module.exports = {
  ...base,
  testMatch: ['**/__tests__/store/scale*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 120000,
  maxWorkers: 1,
};
