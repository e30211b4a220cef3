import { readFileSync } from 'node:fs';
const [file, target] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, 'utf8'));
const self = new Map<number, number>();
p.samples.forEach((id: number, i: number) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i + 1] ?? 0)));
const nodes = new Map<number, any>(p.nodes.map((n: any) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const key = (n: any) => `${n.callFrame.functionName} ${n.callFrame.url.replace(/.*\/(src|node_modules)\//, '$1/')}:${n.callFrame.lineNumber}`;
// time under target, attributed to the direct child of target on the stack
const by = new Map<string, number>();
for (const [id, us] of self) {
  let child: number | undefined;
  for (let cur: number | undefined = id; cur !== undefined; child = cur, cur = parent.get(cur)) {
    if (key(nodes.get(cur)).startsWith(target)) {
      const k = child === undefined ? '(self)' : key(nodes.get(child));
      by.set(k, (by.get(k) ?? 0) + us);
      break;
    }
  }
}
for (const [k, us] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
