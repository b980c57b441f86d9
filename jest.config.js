// Jest configuration: TypeScript through SWC (no type checking here; `npm run typecheck` does that).
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  testTimeout: 120000,
};
