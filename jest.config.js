/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__', '<rootDir>/emulator/test'],
  testMatch: ['**/*.test.ts'],
  // The Redis topology suite runs on its own: `npm run test:scale` (jest.scale.config.js).
  testPathIgnorePatterns: ['/node_modules/', '/__tests__/store/scale[^/]*\\.test\\.ts$'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // The example app and the tests import the package by its public name, as users do.
  moduleNameMapper: {
    '^passport-jetbrains-space$': '<rootDir>/lib/index.ts',
    '^passport-jetbrains-space/emulator$': '<rootDir>/emulator/src/index.ts',
    // Source files may import siblings as './x.js' (what Node's resolution wants after the build).
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  // The shared Redis: the one at REDIS_URL, else a redis-server of the run's own (helpers/global-setup.js).
  globalSetup: '<rootDir>/__tests__/helpers/global-setup.js',
  globalTeardown: '<rootDir>/__tests__/helpers/global-teardown.js',
  testTimeout: 30000,
  maxWorkers: 2,
};
