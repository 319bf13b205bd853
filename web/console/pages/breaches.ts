// The Breaches page. (Being built: this placeholder only names the page.)
import type { ConsolePage } from '../page.ts';
import { h } from '../ui.ts';

export const breachesPage: ConsolePage = {
  id: 'breaches',
  title: { en: 'Breaches', it: 'Violazioni dei dati' },
  roles: ['admin', 'dpo'],
  render(main, ctx) {
    main.append(h('p', {}, ctx.lang === 'it' ? 'In costruzione.' : 'Being built.'));
  },
};
