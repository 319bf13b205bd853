import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { csvCell, csvTable } from './csv.ts';

/** A strict RFC 4180 reader (CRLF records, `""` inside quoted fields), written here so the writer is checked against the RFC, not itself. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    let cell = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        assert.ok(i < text.length, 'unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') [cell, i] = [cell + '"', i + 2];
          else break;
        } else cell += text[i++];
      }
      i++;
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r') {
        assert.ok(!'"\n'.includes(text[i]!), `bare quote or LF in an unquoted field at ${i}`);
        cell += text[i++];
      }
    }
    row.push(cell);
    if (text[i] === ',') i++;
    else {
      assert.equal(text.slice(i, i + 2), '\r\n', `a record ends with CRLF at ${i}`);
      rows.push(row);
      row = [];
      i += 2;
    }
  }
  return rows;
}

// The one formula-injection rule: OWASP's starting characters.
const defused = (s: string): string => (/^[=+\-@\t\r]/.test(s) ? `'${s}` : s);

describe('csvCell', () => {
  it('quotes as RFC 4180 says', () => {
    assert.equal(csvCell('plain'), 'plain');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('two\nlines'), '"two\nlines"');
    assert.equal(csvCell(''), '');
  });

  it('puts an apostrophe before every cell starting with =, +, -, @, tab or CR, numbers included', () => {
    for (const c of ['=', '+', '-', '@', '\t', '\r']) assert.ok(csvCell(`${c}1`).replace(/^"/, '').startsWith(`'${c}`), `cell starting with ${JSON.stringify(c)}`);
    assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvCell('-1'), "'-1");
    assert.equal(csvCell(-3), "'-3");
    assert.equal(csvCell('a=1'), 'a=1', 'only the first character counts');
    assert.equal(csvCell(" '=x"), " '=x");
  });

  it('writes null and undefined as empty cells and other values as JSON', () => {
    assert.equal(csvCell(null), '');
    assert.equal(csvCell(undefined), '');
    assert.equal(csvCell(42), '42');
    assert.equal(csvCell(true), 'true');
    assert.equal(csvCell({ a: 'b,c' }), '"{""a"":""b,c""}"');
  });
});

describe('csvTable', () => {
  it('ends every record with CRLF', () => {
    assert.equal(csvTable([['a', 'b'], ['c', 'd']]), 'a,b\r\nc,d\r\n');
    assert.equal(csvTable([]), '');
  });

  it('round-trips any table of text through an RFC 4180 reader, with formulas defused', () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom('"', ',', '\r', '\n', '=', '+', '-', '@', '\t', "'", 'a', ' ') }));
    fc.assert(
      fc.property(fc.array(fc.array(text, { minLength: 1, maxLength: 6 }), { maxLength: 6 }), (rows) => {
        assert.deepEqual(parseCsv(csvTable(rows)), rows.map((r) => r.map(defused)));
      }),
    );
  });

  it('never lets a cell start with a formula character once read back', () => {
    fc.assert(
      fc.property(fc.array(fc.anything(), { minLength: 1, maxLength: 8 }), (cells) => {
        for (const cell of parseCsv(csvTable([cells]))[0]!) assert.ok(!/^[=+\-@\t\r]/.test(cell), `formula survived: ${JSON.stringify(cell)}`);
      }),
    );
  });
});
