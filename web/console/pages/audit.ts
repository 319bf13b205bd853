// The Audit log page. (Being built: this placeholder only names the page.)
import type { ConsolePage } from '../page.ts';
import { h } from '../ui.ts';

export const auditPage: ConsolePage = {
  id: 'audit',
  title: { en: 'Audit log', it: 'Registro di audit' },
  roles: ['admin', 'dpo'],
  render(main, ctx) {
    main.append(h('p', {}, ctx.lang === 'it' ? 'In costruzione.' : 'Being built.'));
  },
};
