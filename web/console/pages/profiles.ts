// The Profiles page. (Being built: this placeholder only names the page.)
import type { ConsolePage } from '../page.ts';
import { h } from '../ui.ts';

export const profilesPage: ConsolePage = {
  id: 'profiles',
  title: { en: 'Profiles', it: 'Profili' },
  roles: ['admin', 'dpo', 'analyst'],
  render(main, ctx) {
    main.append(h('p', {}, ctx.lang === 'it' ? 'In costruzione.' : 'Being built.'));
  },
};
