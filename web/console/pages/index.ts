// The console's pages, in menu order.
import type { ConsolePage } from '../page.ts';
import { alertsPage } from './alerts.ts';
import { auditPage } from './audit.ts';
import { breachesPage } from './breaches.ts';
import { debuggerPage } from './debugger.ts';
import { overviewPage } from './overview.ts';
import { profilesPage } from './profiles.ts';
import { rightsPage } from './rights.ts';
import { ropaPage } from './ropa.ts';
import { sourcesPage } from './sources.ts';
import { tokensPage } from './tokens.ts';
import { usersPage } from './users.ts';

export const PAGES: readonly ConsolePage[] = [
  overviewPage,
  debuggerPage,
  profilesPage,
  rightsPage,
  auditPage,
  ropaPage,
  breachesPage,
  alertsPage,
  sourcesPage,
  tokensPage,
  usersPage,
];
