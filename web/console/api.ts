// The console's only way to the server: the public API with the session cookie, and the session's CSRF token on every
// state-changing request. Errors come back as ApiError with the API's machine-readable code.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Query = Record<string, string | number | boolean | undefined>;

export class Api {
  csrf = '';
  /** Called on a 401 from a route other than login: the session ended (idle, logout elsewhere, disabled user). */
  onSessionEnd: () => void = () => {};

  url(path: string, query?: Query): string {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') q.set(k, String(v));
    const s = q.toString();
    return s ? `${path}?${s}` : path;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', this.url(path, query));
  }

  /** A GET whose answer is text (HTML, CSV, a notice). */
  async text(path: string, query?: Query): Promise<string> {
    const res = await fetch(this.url(path, query), { credentials: 'same-origin', headers: { accept: 'text/*' } });
    if (!res.ok) throw await this.error(res);
    return res.text();
  }

  send<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return this.request<T>(method, path, body);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (method !== 'GET') headers['x-csrf-token'] = this.csrf;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw await this.error(res);
    if (res.status === 204) return undefined as T;
    const type = res.headers.get('content-type') ?? '';
    return (type.includes('json') ? await res.json() : await res.text()) as T;
  }

  private async error(res: Response): Promise<ApiError> {
    let code = 'FIDUCIA_HTTP_' + res.status;
    let message = res.statusText;
    let details: unknown;
    try {
      const body = (await res.json()) as { error?: { code?: string; message?: string; details?: unknown } };
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
      details = body.error?.details;
    } catch {
      // Not JSON: the status says enough.
    }
    if (res.status === 401 && !res.url.endsWith('/console/login')) this.onSessionEnd();
    return new ApiError(res.status, code, message, details);
  }
}
