/**
 * `npm run test:reliability`: the fault-and-load suite (test/reliability), through the local runtime. Kept out of
 * `npm test` (jest.config.js) because each case starts its own runtime and drives it for tens of seconds.
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  roots: ['<rootDir>/test/reliability'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 240000,
};
