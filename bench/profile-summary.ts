// Summarises a V8 CPU profile (node --cpu-prof; `npm run bench -- --profile` writes the issuance
// broker's into bench/results/profiles/): self time by function and by package, top first.
// Usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top=25] [skip-seconds=0]
// skip-seconds leaves out the first seconds of the profile (start-up: module loading, policy load).
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function packageOf(url: string): string {
  if (url === '') return '(native/idle)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return 'node core';
  const src = /\/(src|bench|test)\/(.+)$/.exec(url);
  return src ? `${src[1]}/${src[2]!.split('/')[0]}` : url;
}

const [file, topArg, skipArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]\n');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const skipUs = Number(skipArg ?? 0) * 1e6;
const selfUs = new Map<number, number>();
let at = profile.startTime;
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  const delta = profile.timeDeltas[i] ?? 0;
  at += delta;
  if (at - profile.startTime < skipUs) continue;
  total += delta;
  selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
}
const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
for (const [id, us] of selfUs) {
  const { callFrame } = byId.get(id)!;
  const where = callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(src|bench)\//, '$1/');
  const name = `${callFrame.functionName || '(anonymous)'} ${where}:${callFrame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  const pkg = callFrame.url === '' ? callFrame.functionName || '(native)' : packageOf(callFrame.url);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
}
// Inclusive time: a function's own samples plus its callees', counted once per stack.
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const { callFrame } = byId.get(at)!;
    if (!/\/(src|bench)\//.test(callFrame.url) && !callFrame.url.includes('node_modules')) continue;
    const where = callFrame.url
      .replace(/^.*node_modules\//, '')
      .replace(/^file:\/\/.*\/(src|bench)\//, '$1/');
    const name = `${callFrame.functionName || '(anonymous)'} ${where}:${callFrame.lineNumber + 1}`;
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + us);
  }
}
const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
const print = (title: string, map: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${pct(us)} ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}\n`);
  }
};
process.stdout.write(
  `${file}: ${(total / 1e6).toFixed(1)} s profiled${skipUs > 0 ? ` (after the first ${skipUs / 1e6} s)` : ''}\n`,
);
print('self time by package', byPackage);
print('self time by function', byFunction);
print('inclusive time by function (project and packages)', inclusive);
