import { defineConfig } from 'vitest/config';

// Each test file creates and drops its own database, so files run in parallel safely.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'sdk/test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    // The same V8 work-around as bin/jit-broker: the broker runs in-process in the test workers.
    execArgv: ['--no-turbo-inline-js-wasm-calls'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
