// The SDK's types are generated from openapi.yaml (npm run sdk:generate); this fails when the
// committed src/openapi.ts no longer matches what the generator makes of the current document.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('src/openapi.ts is what openapi-typescript generates from openapi.yaml (run `npm run sdk:generate`)', async () => {
  const cli = fileURLToPath(new URL('../../node_modules/openapi-typescript/bin/cli.js', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [cli, 'openapi.yaml'], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  const committed = await readFile(new URL('../src/openapi.ts', import.meta.url), 'utf8');
  expect(committed.length).toBeGreaterThan(10_000);
  expect(committed).toBe(stdout);
});
