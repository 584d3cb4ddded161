import { defineConfig } from 'vitest/config';

// Tests run the TypeScript sources directly. Worker threads started from sources
// load tsx themselves (see src/util/workers.ts).
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
