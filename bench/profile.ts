// Summarizes a V8 .cpuprofile (from `--cpu-prof`): top functions by self time, by inclusive time, and by package.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node-internals';
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  const bench = url.indexOf('/bench/');
  return bench >= 0 ? url.slice(bench + 1) : url;
}

function label(n: ProfileNode): string {
  const f = n.callFrame;
  const name = f.functionName || '(anonymous)';
  return f.url ? `${name}  ${where(f.url)}:${f.lineNumber + 1}` : name;
}

function pct(us: number, total: number): string {
  return `${((100 * us) / total).toFixed(1).padStart(5)}%`;
}

export function summarizeProfile(file: string, top = 20): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idleIds = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  const idle = [...idleIds].reduce((a, id) => a + (selfUs.get(id) ?? 0), 0);

  const self = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    if (idleIds.has(id)) continue;
    self.set(label(n), (self.get(label(n)) ?? 0) + us);
    const pkg = n.callFrame.url ? where(n.callFrame.url).replace(/:.*$/, '') : n.callFrame.functionName || '(native)';
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }

  // Inclusive time per function, counting a recursive function once per call stack.
  const inclusive = new Map<string, number>();
  const subtree = new Map<number, number>();
  const sum = (id: number): number => {
    const cached = subtree.get(id);
    if (cached !== undefined) return cached;
    const n = byId.get(id)!;
    let t = selfUs.get(id) ?? 0;
    for (const c of n.children ?? []) t += sum(c);
    subtree.set(id, t);
    return t;
  };
  const root = p.nodes[0]!;
  const stack: { id: number; onStack: Set<string> }[] = [{ id: root.id, onStack: new Set() }];
  while (stack.length > 0) {
    const { id, onStack } = stack.pop()!;
    const n = byId.get(id)!;
    const key = label(n);
    let next = onStack;
    if (!onStack.has(key)) {
      inclusive.set(key, (inclusive.get(key) ?? 0) + sum(id));
      next = new Set(onStack).add(key);
    }
    for (const c of n.children ?? []) stack.push({ id: c, onStack: next });
  }

  const busy = total - idle;
  const lines = [`profile ${file}`, `sampled ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s (${pct(busy, total).trim()}), idle ${(idle / 1e6).toFixed(1)} s; shares below are of busy time`];
  const list = (title: string, m: Map<string, number>, n: number, skip: (k: string) => boolean = () => false) => {
    lines.push(title);
    for (const [k, us] of [...m].filter(([k]) => !skip(k)).sort((a, b) => b[1] - a[1]).slice(0, n)) lines.push(`  ${pct(us, busy)}  ${k}`);
  };
  list('self time by package/file:', byPackage, 12);
  list('self time by function:', self, top);
  const generic = /^\((root|program|idle)\)|^processTicksAndRejections|^runMicrotasks|^listOnTimeout|^processImmediate/;
  list('inclusive time by function:', inclusive, top, (k) => generic.test(k));
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: tsx bench/profile.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${summarizeProfile(file, Number(process.argv[3] ?? 25))}\n`);
}
