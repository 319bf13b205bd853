// The Overview page. (Being built: this placeholder only names the page.)
import type { ConsolePage } from '../page.ts';
import { h } from '../ui.ts';

export const overviewPage: ConsolePage = {
  id: 'overview',
  title: { en: 'Overview', it: 'Panoramica' },
  roles: ['admin', 'dpo', 'analyst'],
  render(main, ctx) {
    main.append(h('p', {}, ctx.lang === 'it' ? 'In costruzione.' : 'Being built.'));
  },
};
