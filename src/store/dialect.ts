// Which database is underneath: known inside src/store/ only (services and routes never branch on it).
export type Dialect = 'sqlite' | 'postgres';
