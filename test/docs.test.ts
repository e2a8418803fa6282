// The README and docs/ are the project's own: every relative link resolves to a file of the
// repository (no document it does not ship), and the quick start covers staff as well as agents.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from './helpers/broker-process.js';

async function documents(): Promise<{ file: string; text: string }[]> {
  const files = [
    'README.md',
    ...(await readdir(path.join(REPO_ROOT, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  ];
  return Promise.all(
    files.map(async (file) => ({ file, text: await readFile(path.join(REPO_ROOT, file), 'utf8') })),
  );
}

describe('README and docs/', () => {
  test('name no document outside the repository, and every relative link resolves', async () => {
    for (const { file, text } of await documents()) {
      expect(text, file).not.toMatch(/DESIGN\.md|\.\.\/shared\//);
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        expect(
          existsSync(path.join(REPO_ROOT, path.dirname(file), target!)),
          `${file} links to ${target}`,
        ).toBe(true);
      }
    }
  });

  test('the README and docs/approvals.md show the development staff token', async () => {
    const docs = new Map((await documents()).map((d) => [d.file, d.text]));
    expect(docs.get('README.md')).toContain('npm run -s dev:token -- --staff');
    expect(docs.get('docs/approvals.md')).toContain('npm run -s dev:token -- --staff');
  });
});
