// The visitor's own credential (docs/security.md, "Visitor credentials"): a secret kept in this browser only, bound to the
// visitor's profile before any event is sent, proved to mint a short-lived credential that reads that profile alone.
import { anonymousId } from '../shared/ajs.ts';

const SECRET_KEY = 'fiducia_visitor_secret';
const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** 32 random bytes as base64url, made once per browser; without storage the secret lasts as long as the page. */
let memory: string | undefined;
function secret(): string {
  let s: string | null = null;
  try {
    s = localStorage.getItem(SECRET_KEY);
  } catch {}
  if (s && SECRET.test(s)) return s;
  s = memory ??= btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  try {
    localStorage.setItem(SECRET_KEY, s);
  } catch {}
  return s;
}

/** Why no credential: no profile yet (nothing recorded), refused (the secret is not this profile's), or no network. */
export type MintFailure = 'no_profile' | 'refused' | 'failed';

export class VisitorCredential {
  #credential: { value: string; until: number } | null = null;

  constructor(private readonly writeKey: string) {}

  /** A credential valid for a while yet, minted (and on the first call bound) with this browser's secret. */
  async get(): Promise<string | MintFailure> {
    if (this.#credential && this.#credential.until > Date.now() + 30_000) return this.#credential.value;
    try {
      const r = await fetch('v1/me/credential', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${this.writeKey}:`)}` },
        body: JSON.stringify({ anonymousId: anonymousId(), secret: secret() }),
      });
      if (r.status === 404) return 'no_profile';
      if (!r.ok) return 'refused';
      const b = (await r.json()) as { credential: string; expiresAt: string };
      this.#credential = { value: b.credential, until: Date.parse(b.expiresAt) };
      return b.credential;
    } catch {
      return 'failed';
    }
  }

  /** The visitor's own profile for a purpose; a stale credential is dropped so the next read mints anew. */
  async read(purpose: string): Promise<{ status: number; body: unknown } | MintFailure> {
    const credential = await this.get();
    if (credential === 'no_profile' || credential === 'refused' || credential === 'failed') return credential;
    try {
      const r = await fetch(`v1/me/profile?purpose=${encodeURIComponent(purpose)}`, { headers: { authorization: `Bearer ${credential}` } });
      if (r.status === 401) this.#credential = null;
      return { status: r.status, body: (await r.json()) as unknown };
    } catch {
      return 'failed';
    }
  }
}
