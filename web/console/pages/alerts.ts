// The Alerts page. (Being built: this placeholder only names the page.)
import type { ConsolePage } from '../page.ts';
import { h } from '../ui.ts';

export const alertsPage: ConsolePage = {
  id: 'alerts',
  title: { en: 'Alerts', it: 'Allarmi' },
  roles: ['admin', 'dpo'],
  render(main, ctx) {
    main.append(h('p', {}, ctx.lang === 'it' ? 'In costruzione.' : 'Being built.'));
  },
};
