// The Record of processing page. (Being built: this placeholder only names the page.)
import type { ConsolePage } from '../page.ts';
import { h } from '../ui.ts';

export const ropaPage: ConsolePage = {
  id: 'ropa',
  title: { en: 'Record of processing', it: 'Registro dei trattamenti' },
  roles: ['admin', 'dpo', 'analyst'],
  render(main, ctx) {
    main.append(h('p', {}, ctx.lang === 'it' ? 'In costruzione.' : 'Being built.'));
  },
};
