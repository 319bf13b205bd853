// Identity values are length-bounded before any pattern runs: ingestion, consent and self-service rights intake.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { basicAuth, eachDialect, startFiducia } from './helpers/harness.ts';
import { CaptureMailer } from './helpers/rights.ts';

type F = Awaited<ReturnType<typeof startFiducia>>;
type ErrorReply = { error: { code: string; message: string; details?: unknown } };

/** An address of exactly `n` characters. */
const email = (n: number, tag = 'a') => `${tag.repeat(n - 'example.com'.length - 1)}@example.com`;
/** The shape the old email pattern backtracked on (quadratic in its length): dots after the @ and no valid end. */
const adversarial = (n: number) => `a@${'a.'.repeat(Math.floor((n - 3) / 2))}@`.padEnd(n, '@');

await eachDialect('request bounds', (dialect) => {
  let f: F;
  let mail: CaptureMailer;
  let ip = 0;
  before(async () => {
    mail = new CaptureMailer();
    f = await startFiducia(dialect, { mailer: mail, rightsSweepMs: 0 });
  });
  after(async () => f.stop());

  const post = (url: string, payload: unknown) =>
    f.app.inject({ method: 'POST', url, headers: { authorization: basicAuth(), 'content-type': 'application/json' }, payload: JSON.stringify(payload), remoteAddress: `198.18.0.${++ip % 250}` });
  const refused = (r: { statusCode: number; body: string; json(): unknown }, path: string) => {
    assert.equal(r.statusCode, 400, r.body);
    const e = (r.json() as ErrorReply).error;
    assert.equal(e.code, 'FIDUCIA_VALIDATION', r.body);
    assert.match(JSON.stringify(e.details), new RegExp(path.replace(/[.[\]]/g, '\\$&')), `details name ${path}: ${r.body}`);
  };

  it('identify: a 31 KB email is refused with a 400 naming traits.email (it blocked the server for seconds)', async () => {
    refused(await post('/v1/identify', { userId: 'bounds-1', traits: { email: adversarial(31 * 1024) } }), 'body.traits.email');
    refused(await post('/v1/identify', { userId: 'bounds-1', traits: { email: 'x'.repeat(31 * 1024) } }), 'body.traits.email');
  });

  it('identify: 255 characters are refused, 254 accepted; phones over 64 are refused', async () => {
    refused(await post('/v1/identify', { userId: 'bounds-2', traits: { email: email(255) } }), 'body.traits.email');
    const ok = await post('/v1/identify', { userId: 'bounds-2', traits: { email: email(254) } });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { success: true });
    refused(await post('/v1/identify', { userId: 'bounds-2', traits: { phone: '1'.repeat(65) } }), 'body.traits.phone');
  });

  it('ids: userId, anonymousId and alias previousId over 512 are refused; 512 and numeric ids are accepted', async () => {
    refused(await post('/v1/track', { userId: 'u'.repeat(513), event: 'E' }), 'body.userId');
    refused(await post('/v1/page', { anonymousId: 'a'.repeat(513) }), 'body.anonymousId');
    refused(await post('/v1/alias', { userId: 'bounds-3', previousId: 'p'.repeat(513) }), 'body.previousId');
    refused(await post('/v1/group', { userId: 'bounds-3', groupId: 'g'.repeat(513) }), 'body.groupId');
    assert.equal((await post('/v1/track', { userId: 'u'.repeat(512), event: 'E' })).statusCode, 200);
    assert.equal((await post('/v1/track', { userId: 4_815_162_342, event: 'E' })).statusCode, 200, 'Segment allows numeric ids');
  });

  it('batch: one over-long email refuses the whole batch, naming the item', async () => {
    const batch = [
      { type: 'identify', userId: 'bounds-4', traits: { email: email(40) } },
      { type: 'identify', userId: 'bounds-4', traits: { email: email(255) } },
    ];
    refused(await post('/v1/batch', { batch }), 'batch[1].traits.email');
  });

  it('batch: hundreds of adversarial emails at the bound are accepted and cost only linear work each', async () => {
    // 254 characters each, the old pattern's worst shape: ~1000 of them fill most of a 500 KB batch.
    const batch = Array.from({ length: 1000 }, (_, i) => ({ type: 'identify', userId: 'bounds-5', messageId: `adv-${i}`, traits: { email: adversarial(254) } }));
    assert.ok(JSON.stringify({ batch }).length > 250 * 1024, 'a large batch');
    const r = await post('/v1/batch', { batch });
    assert.equal(r.statusCode, 200, r.body);
  });

  it('consent: ids over 512 characters are refused naming the field; 512 are accepted', async () => {
    const { noticeVersion } = (await f.app.inject({ method: 'GET', url: '/v1/consent/config' })).json<{ noticeVersion: string }>();
    refused(await post('/v1/consent', { userId: 'u'.repeat(513), purposes: { analytics: true }, noticeVersion }), '/userId');
    refused(await post('/v1/consent', { anonymousId: 'a'.repeat(513), purposes: { analytics: true }, noticeVersion }), '/anonymousId');
    const ok = await post('/v1/consent', { userId: 'c'.repeat(512), purposes: { analytics: true }, noticeVersion });
    assert.equal(ok.statusCode, 200, ok.body);
  });

  it('self-service rights intake: 255 characters are refused before any work, 254 accepted', async () => {
    const body = (address: string) => ({ email: address, type: 'access', language: 'en' });
    refused(await post('/v1/rights-requests', body(email(255, 'r'))), '/email');
    refused(await post('/v1/rights-requests', body(adversarial(15 * 1024))), '/email');
    assert.equal(mail.sent.length, 0, 'nothing was sent for a refused address');
    const ok = await post('/v1/rights-requests', body(email(254, 'r')));
    assert.equal(ok.statusCode, 202, ok.body);
    assert.equal(mail.sent.length, 1);
  });
});
