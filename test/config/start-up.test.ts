// The real process entry (what `npm start` and the Docker image run) with an invalid
// environment: it stops at once, with a non-zero exit and one plain line per problem on stderr.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runBroker, type ScriptExit } from '../helpers/broker-process.js';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'jit-config-'));
});
afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Runs bin/jit-broker with only the given variables (and PATH); a broker that starts anyway is killed. */
function start(env: Record<string, string>): Promise<ScriptExit> {
  // DATA_DIR points at an empty temp dir so a start that wrongly succeeds touches nothing real.
  return runBroker({ DATA_DIR: dataDir, ...env }, 20_000);
}

describe('bin/jit-broker with invalid configuration', () => {
  test('one bad value: exit 1, a single line naming the variable, no stack trace, nothing started', async () => {
    const exit = await start({ PORT: 'eighty' });
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(1);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).toBe('jit-broker: PORT: must be an integer from 0 to 65535\n');
    // Stopped before the development issuers or the embedded database were created.
    expect(await readdir(dataDir)).toEqual([]);
  });

  test('several bad values: one line each, and a refused secret is not echoed', async () => {
    const exit = await start({ SWEEP_INTERVAL_SECONDS: '0', WEBHOOK_SECRET: 'hunter2', LOG_LEVEL: 'chatty' });
    expect(exit.code).toBe(1);
    expect(exit.stdout).toBe('');
    expect(exit.stderr.trimEnd().split('\n').sort()).toEqual(
      [
        'jit-broker: LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
        'jit-broker: SWEEP_INTERVAL_SECONDS: must be an integer from 1 to 3600',
        'jit-broker: WEBHOOK_SECRET: must be at least 16 characters',
      ].sort(),
    );
    expect(exit.stderr).not.toContain('hunter2');
    expect(exit.stderr).not.toMatch(/\n\s+at /);
  });
});
