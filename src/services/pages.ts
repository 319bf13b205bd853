// The source of Fiducia's own pages (privacy center, demo shop): a write key that can be put in their HTML.
import type { AccessService } from './access.ts';
import type { KeyRing } from './keyring.ts';

/**
 * Write keys are stored only as hashes, so the server cannot read one back to put it in a page. This one is
 * derived from the master key instead (HMAC, domain-separated from identity blind indexes by its label): the same
 * on every start and in every process sharing the keys. Its source row is created on the first page request
 * (idempotently: same key, same hash, one row), so a server nobody opens the pages of has no such source.
 * The key is public by design, like every write key: it can only ingest and record consent.
 */
export class PagesSource {
  #writeKey: Promise<string> | undefined;

  constructor(
    private readonly access: AccessService,
    private readonly ring: KeyRing,
    /** Serve the demo shop at /demo. */
    readonly demo: boolean,
  ) {}

  writeKey(): Promise<string> {
    this.#writeKey ??= this.#ensure().catch((err: unknown) => {
      this.#writeKey = undefined;
      throw err;
    });
    return this.#writeKey;
  }

  async #ensure(): Promise<string> {
    const key = `wk_pages_${this.ring.blindIndex.index('fiducia-pages-write-key', 'v1').subarray(0, 24).toString('base64url')}`;
    if (!(await this.access.sourceForWriteKey(key))) await this.access.createSource('fiducia pages (privacy center, demo)', key);
    return key;
  }
}
