// The Console users page. (Being built: this placeholder only names the page.)
import type { ConsolePage } from '../page.ts';
import { h } from '../ui.ts';

export const usersPage: ConsolePage = {
  id: 'users',
  title: { en: 'Console users', it: 'Utenti della console' },
  roles: ['admin'],
  render(main, ctx) {
    main.append(h('p', {}, ctx.lang === 'it' ? 'In costruzione.' : 'Being built.'));
  },
};
