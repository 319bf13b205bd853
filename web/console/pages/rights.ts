// The Rights requests page. (Being built: this placeholder only names the page.)
import type { ConsolePage } from '../page.ts';
import { h } from '../ui.ts';

export const rightsPage: ConsolePage = {
  id: 'rights',
  title: { en: 'Rights requests', it: 'Richieste degli interessati' },
  roles: ['admin', 'dpo'],
  render(main, ctx) {
    main.append(h('p', {}, ctx.lang === 'it' ? 'In costruzione.' : 'Being built.'));
  },
};
