import { render } from 'preact';
import { lang, t } from './i18n/index.ts';
import { ThreadsApi, type TokenStore } from './threads-api.ts';
import { ThreadsApp } from './ui/threads-app.tsx';

const KEY = 'carecall.threads.tokens';
/** The tab's sessionStorage: a reload keeps the sign-in, closing the tab ends it; never in a URL. */
const tokens: TokenStore = {
  load: () => {
    try {
      return JSON.parse(sessionStorage.getItem(KEY) ?? 'null') ?? undefined;
    } catch {
      return undefined;
    }
  },
  save: (value) =>
    value ? sessionStorage.setItem(KEY, JSON.stringify(value)) : sessionStorage.removeItem(KEY),
};

document.documentElement.lang = lang;
document.title = t('threads.pageTitle');
render(<ThreadsApp api={new ThreadsApi(tokens)} />, document.getElementById('app')!);
