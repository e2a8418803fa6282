// The module map of docs/architecture.md holds: no folder of src/ imports a folder above it, and
// no import cycle exists. The check itself is shown to catch both on a small tree made here.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { checkArchitecture } from '../scripts/check-architecture.mjs';
import { REPO_ROOT } from './helpers/broker-process.js';

const check = checkArchitecture as (src: string) => string[];
const scratch = mkdtempSync(path.join(tmpdir(), 'jit-architecture-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(scratch, 'src-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
  return root;
}

test('src/ keeps the module map and has no import cycle', () => {
  expect(check(path.join(REPO_ROOT, 'src'))).toEqual([]);
});

test('a folder importing a folder above it is refused, naming both files', () => {
  const root = tree({
    'db/client.ts': "import { Issuance } from '../issuance/issuance.js';\n",
    'issuance/issuance.ts': 'export class Issuance {}\n',
  });
  expect(check(root)).toEqual([
    'db may not import issuance, a layer above it: db/client.ts imports issuance/issuance.ts',
  ]);
});

test('an import cycle inside one folder is refused, and so is a folder missing from the map', () => {
  const root = tree({
    'leases/a.ts': "import type { B } from './b.js';\nexport type A = B;\n",
    'leases/b.ts': "import {\n  type A,\n} from './a.js';\nexport type B = A;\n",
    'gadgets/x.ts': "import { y } from '../leases/a.js';\n",
  });
  const problems = check(root);
  expect(problems).toContain('import cycle: leases/a.ts -> leases/b.ts');
  expect(problems.some((p) => p.startsWith('src/gadgets is not in the module map'))).toBe(true);
});
