// What services hold instead of a database connection: a scope to give to repositories and to run units of work in
// (src/store/internal/scope.ts). Nothing outside src/store/ sees a query builder, a driver or the dialect.
export type { DataScope, KeyScope } from './internal/scope.ts';
