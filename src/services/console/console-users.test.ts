// Password hashing for console users: the stored format, the cost, and refusal of malformed or tampered hashes.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { hashPassword, normalizeUsername, verifyPassword } from './console-users.ts';

it('stores scrypt with its parameters and a per-user salt, and verifies only the right password', async () => {
  const a = await hashPassword('correct horse battery staple');
  const b = await hashPassword('correct horse battery staple');
  const [kind, n, r, p, salt, hash] = a.split('$');
  assert.equal(kind, 'scrypt');
  assert.ok(Number(n) >= 2 ** 15 && Number(r) >= 8 && Number(p) >= 1, `cost ${n} ${r} ${p}`);
  assert.equal(Buffer.from(salt!, 'base64url').length, 16);
  assert.equal(Buffer.from(hash!, 'base64url').length, 32);
  assert.notEqual(a, b, 'a fresh salt each time');
  assert.equal(await verifyPassword('correct horse battery staple', a), true);
  assert.equal(await verifyPassword('correct horse battery stapler', a), false);
});

it('refuses malformed hashes and parameters that would cost too much, without computing them', async () => {
  const good = await hashPassword('some password here');
  const [, , r, p, salt, hash] = good.split('$');
  for (const stored of ['', 'scrypt', `bcrypt$32768$${r}$${p}$${salt}$${hash}`, `scrypt$${2 ** 30}$${r}$${p}$${salt}$${hash}`, `scrypt$32768$999$${p}$${salt}$${hash}`, `scrypt$abc$${r}$${p}$${salt}$${hash}`]) {
    assert.equal(await verifyPassword('some password here', stored), false, stored.slice(0, 30));
  }
});

it('normalizes login names: trimmed, lower case, NFC', () => {
  assert.equal(normalizeUsername('  Ada@Example.COM '), 'ada@example.com');
  assert.equal(normalizeUsername('Cafe\u0301'), 'caf\u00e9');
});
