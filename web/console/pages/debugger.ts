// The Live debugger page. (Being built: this placeholder only names the page.)
import type { ConsolePage } from '../page.ts';
import { h } from '../ui.ts';

export const debuggerPage: ConsolePage = {
  id: 'debugger',
  title: { en: 'Live debugger', it: 'Debugger in tempo reale' },
  roles: ['admin', 'analyst'],
  render(main, ctx) {
    main.append(h('p', {}, ctx.lang === 'it' ? 'In costruzione.' : 'Being built.'));
  },
};
