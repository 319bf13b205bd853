// The session cookie's flags: Secure exactly when the public URL is https.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { HttpContext } from './context.ts';
import { cookieFlags } from './console-session.ts';

it('marks the cookies Secure when the public URL is https, and always HttpOnly and SameSite=Strict on /', () => {
  const of = (publicUrl: string | undefined) => cookieFlags({ publicUrl } as HttpContext);
  assert.deepEqual(of('https://cdp.shop.example'), { httpOnly: true, sameSite: 'strict', path: '/', secure: true });
  assert.deepEqual(of('http://127.0.0.1:8787'), { httpOnly: true, sameSite: 'strict', path: '/', secure: false });
  assert.equal(of(undefined).secure, false);
});
