// Compiles src/ to dist/ (one .js per .ts, same layout, source maps) for bin/jit-broker, and the
// SDK's sdk/src/ to sdk/dist/ (what the compiled CLI imports as @jit-broker/sdk).
// Not bundled: paths relative to a module (migrations/, openapi.yaml) stay valid from dist/.
// Each new tree is written beside its target and swapped in, so a concurrent build never leaves a
// half-written dist/ behind.
import { randomUUID } from 'node:crypto';
import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function compile(srcDir, outDir) {
  const parent = path.dirname(outDir);
  const staging = path.join(parent, `.dist-${randomUUID()}`);
  const entries = (await readdir(srcDir, { recursive: true }))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => path.join(srcDir, file));
  try {
    await build({
      entryPoints: entries,
      outdir: staging,
      outbase: srcDir,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: true,
      logLevel: 'warning',
    });
    const old = path.join(parent, `.dist-old-${randomUUID()}`);
    await rename(outDir, old).catch((error) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await rename(staging, outDir);
    await rm(old, { recursive: true, force: true });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

await compile(path.join(root, 'sdk', 'src'), path.join(root, 'sdk', 'dist'));
await compile(path.join(root, 'src'), path.join(root, 'dist'));
