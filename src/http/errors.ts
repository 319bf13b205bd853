// The JSON shape of every error answer; the catalogue and the base class live in src/domain/errors.ts.
import type { ErrorCode, FiduciaError } from '../domain/errors.ts';

export { ERROR_STATUS, FiduciaError, type ErrorCode } from '../domain/errors.ts';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

/** What a caller sees: an internal error's message and details stay in the log. */
export function errorBody(err: FiduciaError): ErrorBody {
  if (err.code === 'FIDUCIA_INTERNAL') return { error: { code: err.code, message: 'internal error' } };
  return { error: { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) } };
}
