import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const byId = new Map(p.nodes.map(n => [n.id, n]));
const parent = new Map(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map(); let total = 0;
p.samples.forEach((id, i) => { const d = p.timeDeltas[i] ?? 0; self.set(id, (self.get(id) ?? 0) + d); total += d; });
const incl = new Map();
for (const [id, t] of self) {
  const seen = new Set();
  for (let x = id; x !== undefined; x = parent.get(x)) {
    const n = byId.get(x); const f = n.callFrame; const u = f.url;
    const k = `${f.functionName || '(anon)'} ${u.includes('/src/') ? u.slice(u.indexOf('/src/')+1) : u.includes('node_modules') ? u.slice(u.lastIndexOf('node_modules/')+13).split('/')[0] : u}:${f.lineNumber+1}`;
    if (seen.has(k)) continue; seen.add(k);
    incl.set(k, (incl.get(k) ?? 0) + t);
  }
}
const filt = process.argv[3] ?? 'src/';
[...incl].filter(([k]) => k.includes(filt)).sort((a,b)=>b[1]-a[1]).slice(0, 45).forEach(([k,t]) => console.log((100*t/total).toFixed(1).padStart(5)+'%', k));
