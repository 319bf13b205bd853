import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERROR_STATUS, FiduciaError, type ErrorCode } from './errors.ts';

describe('the error catalogue', () => {
  it('gives every code a 4xx or 5xx status and a FIDUCIA_ name', () => {
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      assert.match(code, /^FIDUCIA_[A-Z_]+$/, `code ${code}`);
      assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code} maps to ${status}, not a 4xx/5xx status`);
    }
  });

  it('has an error take its status from its code', () => {
    for (const code of Object.keys(ERROR_STATUS) as ErrorCode[]) {
      const err = new FiduciaError(code, 'm', { n: 1 });
      assert.equal(err.status, ERROR_STATUS[code], `status of ${code}`);
      assert.equal(err.code, code);
      assert.deepEqual(err.details, { n: 1 });
      assert.deepEqual(err.headers(), {}, 'no extra headers by default');
      assert.ok(err instanceof Error, 'an Error');
    }
  });
});
