import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { escapeHtml } from './html.ts';

// What the escaper may leave behind: the five entities it writes, and no other `&`.
const ENTITY = /&(?:amp|lt|gt|quot|#39);/g;

/** Inverse of escapeHtml, for the round trip: entities first, `&amp;` last so `&amp;lt;` stays `&lt;`. */
const unescape = (s: string): string =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

describe('escapeHtml', () => {
  it('escapes the five characters that can open markup or end an attribute', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    assert.equal(escapeHtml('&amp;'), '&amp;amp;', 'an entity in the input is text, escaped again');
    assert.equal(escapeHtml('plain text, è'), 'plain text, è');
  });

  it('writes null and undefined as nothing and other values as JSON', () => {
    assert.equal(escapeHtml(null), '');
    assert.equal(escapeHtml(undefined), '');
    assert.equal(escapeHtml(42), '42');
    assert.equal(escapeHtml({ a: '<b>' }), '{&quot;a&quot;:&quot;&lt;b&gt;&quot;}');
  });

  it('never leaves a raw <, >, quote or an & outside its own entities, and round-trips', () => {
    const text = fc.string({ unit: fc.constantFrom('<', '>', '"', "'", '&', 'a', ';', '#', 'l', 't', 'amp', ' ', 'é', '\u{1F600}') });
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), text), (s) => {
        const out = escapeHtml(s);
        assert.ok(!/[<>"']/.test(out), `raw markup character in ${JSON.stringify(out)}`);
        assert.ok(!out.replace(ENTITY, '').includes('&'), `stray & in ${JSON.stringify(out)}`);
        assert.equal(unescape(out), s);
      }),
    );
  });

  it('keeps a value inside a quoted attribute, whichever quote the template uses', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        for (const q of ['"', "'"]) {
          const open = `<x data-v=${q}`;
          const attr = `${open}${escapeHtml(s)}${q}>`;
          assert.equal(attr.indexOf(q, open.length), attr.length - 2, `the value ends the attribute early: ${attr}`);
        }
      }),
    );
  });
});
