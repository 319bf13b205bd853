// The Sources and write keys page. (Being built: this placeholder only names the page.)
import type { ConsolePage } from '../page.ts';
import { h } from '../ui.ts';

export const sourcesPage: ConsolePage = {
  id: 'sources',
  title: { en: 'Sources and write keys', it: 'Sorgenti e chiavi di scrittura' },
  roles: ['admin'],
  render(main, ctx) {
    main.append(h('p', {}, ctx.lang === 'it' ? 'In costruzione.' : 'Being built.'));
  },
};
