// Where a `node --cpu-prof` profile spent its time: self time by source area (src/<dir>/<module>, node internals,
// dependencies) and the top functions. Run: node bench/snapshots/profile-summary.ts FILE.cpuprofile [topN]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts FILE.cpuprofile [topN]');
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

// Self time per node from the samples and the time until the next one.
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));

function area(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const src = /\/src\/([^/]+)(\/[^/]+)?/.exec(url);
  if (src) return `src/${src[1]}${src[2] && !src[2].endsWith('.ts') ? src[2] : ''}`;
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return `dep ${dep[1]}`;
  if (url.startsWith('node:')) return `node ${url.slice(5).split('/')[0]}`;
  return url;
}

const byArea = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
  const a = area(url, functionName);
  byArea.set(a, (byArea.get(a) ?? 0) + us);
  const f = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${lineNumber + 1}`;
  byFunction.set(f, (byFunction.get(f) ?? 0) + us);
}
const wallMs = (profile.endTime - profile.startTime) / 1000;
const busyMs = [...selfUs].filter(([id]) => nodes.get(id)!.callFrame.functionName !== '(idle)').reduce((s, [, us]) => s + us, 0) / 1000;
console.log(`${file}: wall ${(wallMs / 1000).toFixed(1)} s, busy ${(busyMs / 1000).toFixed(1)} s`);
const print = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(us / 1000).toFixed(0).padStart(8)} ms ${((us / 1000 / busyMs) * 100).toFixed(1).padStart(5)}%  ${k}`);
  }
};
print('self time by area', byArea);
print('self time by function', byFunction);
