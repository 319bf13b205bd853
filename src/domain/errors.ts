// The error catalogue: one stable code per failure a caller can see, each with its HTTP status, and the base class
// every such error extends. Each class sets its code where it is defined; src/http/app.ts renders them all.
export const ERROR_STATUS = {
  FIDUCIA_INVALID_JSON: 400,
  FIDUCIA_JSON_TOO_DEEP: 400,
  FIDUCIA_INVALID_MESSAGE: 400,
  FIDUCIA_MISSING_IDENTITY: 400,
  FIDUCIA_VALIDATION: 400,
  FIDUCIA_UNKNOWN_PURPOSE: 400,
  FIDUCIA_PURPOSE_NOT_CONSENTABLE: 400,
  FIDUCIA_UNKNOWN_NOTICE_VERSION: 400,
  FIDUCIA_VERIFICATION_FAILED: 400,
  FIDUCIA_INVALID_TC_STRING: 400,
  FIDUCIA_DELAY_REASON_REQUIRED: 400,
  FIDUCIA_UNAUTHORIZED: 401,
  FIDUCIA_FORBIDDEN: 403,
  FIDUCIA_PURPOSE_NOT_ALLOWED: 403,
  FIDUCIA_IDENTITY_NOT_VERIFIED: 403,
  FIDUCIA_SOURCE_KIND: 403,
  FIDUCIA_TOKEN_SUSPENDED: 403,
  FIDUCIA_USER_SUSPENDED: 403,
  FIDUCIA_CSRF: 403,
  FIDUCIA_NOT_FOUND: 404,
  FIDUCIA_METHOD_NOT_ALLOWED: 405,
  FIDUCIA_REQUEST_STATE: 409,
  FIDUCIA_EXPORT_EXPIRED: 410,
  FIDUCIA_LAST_ADMIN_TOKEN: 409,
  FIDUCIA_SEGMENT_CONFLICT: 409,
  FIDUCIA_CONSOLE_SETUP_DONE: 409,
  FIDUCIA_USERNAME_TAKEN: 409,
  FIDUCIA_LAST_ADMIN_USER: 409,
  FIDUCIA_BODY_TOO_LARGE: 413,
  FIDUCIA_MESSAGE_TOO_LARGE: 413,
  FIDUCIA_UNSUPPORTED_MEDIA_TYPE: 415,
  FIDUCIA_RATE_LIMITED: 429,
  FIDUCIA_INTERNAL: 500,
  FIDUCIA_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * A failure with a code from the catalogue. `details` is shown to the caller; the message is too, except for
 * `FIDUCIA_INTERNAL`, whose message is for the log only.
 */
export class FiduciaError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'FiduciaError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = details;
  }

  /** Headers the answer carries besides the body (e.g. `Retry-After`). */
  headers(): Record<string, string> {
    return {};
  }
}

/**
 * The database stayed locked by another process past the wait allowed (SQLite's busy timeout, PostgreSQL's lock
 * timeout): nothing was written; the caller may send the same request again shortly (503 with Retry-After, which the
 * SDKs retry).
 */
export class DatabaseBusyError extends FiduciaError {
  constructor() {
    super('FIDUCIA_UNAVAILABLE', 'the database is busy: retry shortly', { reason: 'database_busy', retryAfterSeconds: 1 });
    this.name = 'DatabaseBusyError';
  }

  override headers(): Record<string, string> {
    return { 'retry-after': '1' };
  }
}

/** Driver codes of a lock that could not be had in time: SQLite's busy (and its snapshot variant), PostgreSQL's 55P03. */
export function isDatabaseBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT' || code === 'SQLITE_BUSY_TIMEOUT' || code === '55P03';
}

/** A broken invariant of Fiducia's own (a bug, or a store changed behind its back): 500, the message for the log only. */
export class InvariantError extends FiduciaError {
  constructor(message: string) {
    super('FIDUCIA_INTERNAL', message);
    this.name = 'InvariantError';
  }
}
