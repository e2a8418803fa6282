// Compiles src/ to dist/ once before any test file runs: the process tests start the broker as
// production does (bin/jit-broker on dist/), and must run the source under test.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO_ROOT } from './helpers/broker-process.js';

export default async function setup(): Promise<void> {
  await promisify(execFile)(process.execPath, ['scripts/build.mjs'], { cwd: REPO_ROOT });
}
