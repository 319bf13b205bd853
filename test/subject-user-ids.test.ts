// One userId per subject is a key of the store (subject_user_ids), held on both databases whoever writes the links.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { openDatabases, type Databases } from '../src/store/database.ts';
import { ProfileRepo } from '../src/store/profile-repo.ts';
import { eachDialect, freshStore, type StoreHandle } from './helpers/harness.ts';

eachDialect('one userId per subject', (dialect) => {
  let store: StoreHandle;
  let dbs: Databases;
  before(async () => {
    store = freshStore(dialect);
    dbs = await openDatabases(store.options);
    await dbs.migrate();
  });
  after(async () => {
    await dbs.close();
    await store.cleanup();
  });

  const link = (subject: string, kind: string) => ({ kind, blind_index: randomBytes(32), subject_id: subject, value_enc: randomBytes(40), created_at: Date.now(), asserted: 'server' as const });
  const subject = async () => {
    const id = `s-${randomBytes(6).toString('hex')}`;
    await new ProfileRepo(dbs.data).insertSubjects([{ id, created_at: 1, updated_at: 1, merged_into: null, restricted_at: null, erased_at: null }]);
    return id;
  };
  const slots = async (id: string) => (await dbs.data.selectFrom('subject_user_ids').select('blind_index').where('subject_id', '=', id).execute()).map((r) => Buffer.from(r.blind_index).toString('hex'));

  it('refuses a second userId link, in one transaction or in two, and keeps the first', async () => {
    const s = await subject();
    const first = link(s, 'userId');
    await dbs.store.transaction(async (tx) => new ProfileRepo(tx).insertIdentities([first, link(s, 'anonymousId'), link(s, 'email')]));
    await assert.rejects(dbs.store.transaction(async (tx) => new ProfileRepo(tx).insertIdentities([link(s, 'userId')])), /unique|UNIQUE|duplicate key/);
    await assert.rejects(dbs.store.transaction(async (tx) => new ProfileRepo(tx).insertIdentities([link(s, 'anonymousId'), link(s, 'userId'), link(s, 'userId')])));
    assert.deepEqual(await slots(s), [first.blind_index.toString('hex')]);
    assert.equal((await new ProfileRepo(dbs.data).identitiesOf(s)).length, 3, 'the refused transactions left nothing');
  });

  it('moves the slot with a merged userId, frees it on rectification and on erasure', async () => {
    const [loser, survivor] = [await subject(), await subject()];
    const u = link(loser, 'userId');
    const repo = new ProfileRepo(dbs.data);
    await repo.insertIdentities([u]);
    await repo.reassignIdentity('userId', u.blind_index, survivor, u.value_enc);
    assert.deepEqual([await slots(loser), await slots(survivor)], [[], [u.blind_index.toString('hex')]]);
    await repo.deleteIdentitiesOf(survivor, 'userId');
    assert.deepEqual(await slots(survivor), []);
    const again = link(survivor, 'userId');
    await repo.insertIdentities([again]);
    assert.deepEqual(await slots(survivor), [again.blind_index.toString('hex')]);
    assert.equal(await repo.deleteAllIdentitiesOf(survivor), 1);
    assert.deepEqual(await slots(survivor), []);
  });
});
