import { readdirSync } from 'node:fs';
import { summarizeProfile } from './profile.ts';
const d = process.argv[2]!;
const f = readdirSync(d).find((x) => x.endsWith('.cpuprofile'))!;
console.log(summarizeProfile(`${d}/${f}`, 60));
