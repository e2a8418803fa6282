// Compiles src/ to dist/ (one .js per .ts, same layout, source maps) for bin/jit-broker.
// Not bundled: paths relative to a module (migrations/, openapi.yaml) stay valid from dist/.
// The new tree is written beside dist/ and swapped in, so a concurrent build never leaves a
// half-written dist/ behind.
import { randomUUID } from 'node:crypto';
import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');
const staging = path.join(root, `.dist-${randomUUID()}`);

const entries = (await readdir(src, { recursive: true }))
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
  .map((file) => path.join(src, file));

try {
  await build({
    entryPoints: entries,
    outdir: staging,
    outbase: src,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
  const old = path.join(root, `.dist-old-${randomUUID()}`);
  await rename(dist, old).catch((error) => {
    if (error.code !== 'ENOENT') throw error;
  });
  await rename(staging, dist);
  await rm(old, { recursive: true, force: true });
} finally {
  await rm(staging, { recursive: true, force: true });
}
