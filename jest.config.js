/** Jest: TypeScript through ts-jest in transpile-only mode (tsconfig `isolatedModules`); `npm test` type-checks separately with `tsc`. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The fault-and-load suite runs on its own: npm run test:reliability (jest.reliability.config.js).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/reliability/'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  testTimeout: 30000,
};
