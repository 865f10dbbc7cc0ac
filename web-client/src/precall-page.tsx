import { render } from 'preact';
import { lang } from './i18n/index.ts';
import { Precall } from './precall.tsx';

document.documentElement.lang = lang;
const token = new URLSearchParams(location.hash.slice(1)).get('token');
history.replaceState(null, '', location.pathname + location.search);
render(<Precall token={token} />, document.getElementById('app')!);
