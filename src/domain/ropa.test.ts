import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { csvCell } from './csv.ts';
import { escapeHtml } from './html.ts';
import { retentionText, safeguardText } from './ropa.ts';

describe('record of processing helpers', () => {
  it('words retention periods', () => {
    assert.equal(retentionText(3650, 'it'), '10 anni');
    assert.equal(retentionText(365, 'en'), '1 year');
    assert.equal(retentionText(395, 'en'), '13 months (395 days)');
    assert.equal(retentionText(730, 'it'), '2 anni');
    assert.equal(retentionText(90, 'it'), '3 mesi (90 giorni)');
    assert.equal(retentionText(45, 'en'), '45 days');
  });

  it('names the Chapter V basis a transfer can rest on', () => {
    assert.match(safeguardText('CH', 'en'), /adequacy decision/);
    assert.match(safeguardText('US', 'en'), /Data Privacy Framework/);
    assert.match(safeguardText('IN', 'it'), /clausole contrattuali tipo/);
  });

  it('quotes CSV cells and defuses spreadsheet formulas', () => {
    assert.equal(csvCell('plain'), 'plain');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvCell('+1'), "'+1");
    assert.equal(csvCell(42), '42');
  });

  it('escapes HTML', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
