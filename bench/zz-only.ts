import { benchReads } from './reads.ts';
const r = await benchReads('sqlite', console.log);
console.log(JSON.stringify(r));
process.exit(0);
