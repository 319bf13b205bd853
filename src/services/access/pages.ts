// The source of Fiducia's own pages (privacy center, demo shop): the browser key that their HTML carries.
import type { AccessService } from './access.ts';

/**
 * Pages carry the oldest active `browser` source's key, which is public by design: it ingests and records consent
 * for the browser's own visitor and can claim no identity. A server key never reaches a page. The first start creates
 * that browser source; rotating or revoking it changes what the next page view carries.
 */
export class PagesSource {
  constructor(
    private readonly access: AccessService,
    /** Serve the demo shop at /demo. */
    readonly demo: boolean,
  ) {}

  /** The key for the pages, or '' when every browser source is revoked (the pages then say they cannot send). */
  async writeKey(): Promise<string> {
    return (await this.access.pagesWriteKey()) ?? '';
  }
}
