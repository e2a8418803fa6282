// openapi.yaml passes Redocly's recommended rules with no error and no warning (servers, a
// security requirement on every operation, an operationId on each, a 4XX on each...), and its
// operationIds follow the one pattern SDK generators turn into method names.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT } from './helpers/broker-process.js';

/** Pinned like biome: the same rules on every machine. */
const REDOCLY_CLI = '@redocly/cli@2.77.0';

interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: { ruleId: string; message: string; location: { pointer: string }[] }[];
}

describe('openapi.yaml', () => {
  test('redocly lint (recommended rules) reports 0 errors and 0 warnings', { timeout: 240_000 }, async () => {
    const run = promisify(execFile)('npx', ['--yes', REDOCLY_CLI, 'lint', 'openapi.yaml', '--format=json'], {
      cwd: REPO_ROOT,
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    });
    // A lint failure exits non-zero; its JSON report is on stdout either way.
    const { stdout } = await run.catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
    const report = JSON.parse(stdout) as LintReport;
    const found = report.problems.map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
    expect(found).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  });

  test('every operation has a unique lowerCamelCase operationId, verb first (getLease, listLeases, mintCredential)', async () => {
    const doc = parseYaml(await readFile(new URL('../openapi.yaml', import.meta.url), 'utf8')) as {
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    expect(ids.length).toBeGreaterThan(20);
    for (const id of ids) expect(id).toMatch(/^[a-z]+[A-Z][A-Za-z]+$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
