// The API tokens page. (Being built: this placeholder only names the page.)
import type { ConsolePage } from '../page.ts';
import { h } from '../ui.ts';

export const tokensPage: ConsolePage = {
  id: 'tokens',
  title: { en: 'API tokens', it: 'Token API' },
  roles: ['admin'],
  render(main, ctx) {
    main.append(h('p', {}, ctx.lang === 'it' ? 'In costruzione.' : 'Being built.'));
  },
};
