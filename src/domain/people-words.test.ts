import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG_PATH, loadPrivacyConfig } from '../services/config/config-loader.ts';
import { CONSENT_METHOD_WORDS, IDENTITY_KIND_WORDS, Namer, REQUEST_STATUS_WORDS, word } from './people-words.ts';
import { RIGHTS_STATUSES } from './rights.ts';
import { CONSENT_METHODS } from './consent.ts';
import { IDENTITY_KINDS } from './identity.ts';

const cfg = loadPrivacyConfig(DEFAULT_CONFIG_PATH).config;

describe('internal keys in words', () => {
  it('has words in both languages for every status, identity kind and consent method the engine knows', () => {
    for (const [words, keys] of [
      [REQUEST_STATUS_WORDS, [...RIGHTS_STATUSES, 'awaiting_verification']],
      [IDENTITY_KIND_WORDS, IDENTITY_KINDS],
      [CONSENT_METHOD_WORDS, CONSENT_METHODS],
    ] as const) {
      for (const k of keys) {
        assert.ok(Object.hasOwn(words, k), `no words for ${k}`);
        assert.notEqual(word(words, k, 'it'), word(words, k, 'en'), `${k}: the same text in both languages`);
      }
    }
    assert.equal(word(REQUEST_STATUS_WORDS, 'completed', 'it'), 'completata');
    assert.equal(word(REQUEST_STATUS_WORDS, 'in_progress', 'it'), 'in corso');
    // A key it does not know (a newer version's) is shown as it is, and `__proto__` is not a word.
    assert.equal(word(REQUEST_STATUS_WORDS, 'paused', 'en'), 'paused');
    assert.equal(word(REQUEST_STATUS_WORDS, '__proto__', 'en'), '__proto__');
  });

  it('names the shipped shop’s every trait, event and property in both languages', () => {
    const plan = cfg.trackingPlan;
    const properties = new Set([...Object.values(plan.events).flatMap((e) => Object.keys(e.properties)), ...Object.keys(plan.page.properties), ...Object.keys(plan.group.properties)]);
    const labels = cfg.labels!;
    for (const t of Object.keys(plan.traits)) assert.ok(Object.hasOwn(labels.traits, t), `trait ${t} has no label`);
    for (const e of Object.keys(plan.events)) assert.ok(Object.hasOwn(labels.events, e), `event ${e} has no label`);
    for (const p of properties) assert.ok(Object.hasOwn(labels.properties, p), `property ${p} has no label`);
    const it_ = new Namer(cfg, 'it');
    assert.equal(it_.trait('favoriteCategory'), 'Categoria preferita');
    assert.equal(it_.event('Order Completed'), 'Ordine completato');
  });

  it('writes values in words: yes/no, numbers in the language, lists and objects with their labels, dates in UTC', () => {
    const it_ = new Namer(cfg, 'it');
    const en = new Namer(cfg, 'en');
    assert.equal(it_.value(true), 'sì');
    assert.equal(en.value(false), 'no');
    assert.equal(it_.value(1234.5), '1234,5');
    assert.equal(en.value(1234.5), '1,234.5');
    assert.equal(it_.value(null), '—');
    assert.equal(it_.fields({ product_id: 'p-1', price: 12.5, products: [{ name: 'Scarpe', quantity: 2 }] }), 'Prodotto: p-1 · Prezzo: 12,5 · Prodotti: Nome: Scarpe, Quantità: 2');
    assert.equal(en.fields({ unknown_thing: 'x' }), 'unknown_thing: x', 'a property without a label is shown as sent');
    assert.equal(it_.date('2026-11-29T12:05:00.000Z'), '29 novembre 2026 alle ore 12:05 UTC');
    assert.equal(en.date('2026-11-29T12:05:00.000Z'), '29 November 2026 at 12:05 UTC');
    assert.equal(en.date('not a date'), 'not a date');
    assert.equal(it_.purpose('personalization'), 'Personalizzazione');
    assert.equal(it_.category('user.preference.interests'), 'Interessi');
    assert.equal(it_.segment('last_viewed_category'), 'Ultima categoria vista');
    assert.equal(it_.source('default'), 'sistemi del negozio');
    assert.equal(it_.source('Web shop'), 'Web shop', 'a name the operator gave is kept');
    // Deeply nested values do not recurse without end.
    let deep: unknown = 'x';
    for (let i = 0; i < 50; i++) deep = { a: deep };
    assert.ok(it_.value(deep).length < 1000);
  });
});
