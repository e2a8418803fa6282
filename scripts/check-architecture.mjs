#!/usr/bin/env node
// Holds src/ to the module map of docs/architecture.md: a folder may import only the folders
// below it in LAYERS, and no module may take part in an import cycle. Exits 1 naming each
// offending import or cycle. Run by the test suite (test/architecture.test.ts).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bottom first. Each entry is a folder of src/ (or a top-level module, without `.ts`). */
export const LAYERS = [
  'problem',
  'oauth-error',
  'core',
  'clock',
  'logger',
  'config',
  'metrics',
  'db',
  'audit',
  'webhooks',
  'providers',
  'policy-config',
  'identity',
  'policy',
  'leases',
  'step-up',
  'revocation',
  'issuance',
  'approvals',
  'oauth',
  'http',
  'policy-checks',
  'broker',
  'dev-banner',
  'main',
  'cli',
];

const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/gm;

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The layer entry a file belongs to: its first folder under src/, or its own name at the top. */
function unitOf(src, file) {
  const [first, ...rest] = path.relative(src, file).split(path.sep);
  return rest.length > 0 ? first : first.replace(/\.ts$/, '');
}

export function checkArchitecture(src) {
  const files = sourceFiles(src);
  const graph = new Map();
  const problems = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = [];
    for (const match of text.matchAll(IMPORT)) {
      const target = path.resolve(path.dirname(file), match[1]).replace(/\.js$/, '.ts');
      targets.push(target);
      const from = unitOf(src, file);
      const to = unitOf(src, target);
      if (from === to) continue;
      const rankFrom = LAYERS.indexOf(from);
      const rankTo = LAYERS.indexOf(to);
      const where = `${path.relative(src, file)} imports ${path.relative(src, target)}`;
      if (rankFrom < 0) problems.push(`src/${from} is not in the module map (scripts/check-architecture.mjs LAYERS): ${where}`);
      else if (rankTo < 0) problems.push(`src/${to} is not in the module map: ${where}`);
      else if (rankTo > rankFrom) problems.push(`${from} may not import ${to}, a layer above it: ${where}`);
    }
    graph.set(file, targets);
  }
  for (const cycle of cycles(graph)) {
    problems.push(`import cycle: ${cycle.map((f) => path.relative(src, f)).join(' -> ')}`);
  }
  return problems;
}

/** Strongly connected components of more than one module (Tarjan), each as a path. */
function cycles(graph) {
  let index = 0;
  const stack = [];
  const state = new Map();
  const found = [];
  const visit = (node) => {
    state.set(node, { index, low: index, onStack: true });
    index++;
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!state.has(next)) {
        visit(next);
        state.get(node).low = Math.min(state.get(node).low, state.get(next).low);
      } else if (state.get(next).onStack) {
        state.get(node).low = Math.min(state.get(node).low, state.get(next).index);
      }
    }
    if (state.get(node).low === state.get(node).index) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        state.get(member).onStack = false;
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.reverse());
    }
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const src = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src'));
  const problems = checkArchitecture(src);
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) process.exit(1);
  console.log(`src/ keeps the module map (${LAYERS.length} layers, no import cycles)`);
}
