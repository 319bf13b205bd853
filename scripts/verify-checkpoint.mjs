// Checks a Fiducia audit checkpoint (a C2SP signed note) against the log's Ed25519 public key, with nothing but Node.
// Usage: node scripts/verify-checkpoint.mjs checkpoint.txt PUBLIC_KEY_BASE64   (exit 0: valid; 1: not valid)
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';

const [file, keyBase64] = process.argv.slice(2);
const note = readFileSync(file, 'utf8');
const split = note.indexOf('\n\n');
const body = note.slice(0, split + 1); // the signed text: every line above the blank line
const origin = body.split('\n')[0];
const raw = Buffer.from(keyBase64, 'base64'); // 32 bytes
const expectedOrigin = `fiducia/audit/${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`;
const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' });
const keyHash = createHash('sha256').update(Buffer.concat([Buffer.from(`${origin}\n`), Buffer.from([1]), raw])).digest().subarray(0, 4);
const line = note.slice(split + 2).split('\n').find((l) => l.startsWith(`\u2014 ${origin} `));
const sig = Buffer.from(line?.split(' ')[2] ?? '', 'base64');
const ok = origin === expectedOrigin && sig.length === 68 && sig.subarray(0, 4).equals(keyHash) && verify(null, Buffer.from(body), key, sig.subarray(4));
console.log(ok ? `signature OK: ${body.split('\n')[1]} entries, root ${body.split('\n')[2]}` : 'signature NOT valid');
process.exit(ok ? 0 : 1);
