import { render } from 'preact';
import { lang, t } from '../i18n/index.ts';
import { EmbedApp } from './embed-app.tsx';
import { HostChannel } from './host-channel.ts';
import type { EmbedBoot } from './messages.ts';

/** The server's word on this page (session and host origin, or why it is refused), read once. */
function readBoot(): EmbedBoot {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="carecall-widget"]');
  try {
    const boot = JSON.parse(meta?.content ?? '') as EmbedBoot;
    meta?.remove();
    return boot;
  } catch {
    return { refused: 'no_session' };
  }
}

document.documentElement.lang = lang;
document.title = t('embed.title');
const boot = readBoot();
const channel = 'session' in boot ? new HostChannel(boot.hostOrigin, window.parent, window) : undefined;
render(<EmbedApp boot={boot} channel={channel} />, document.getElementById('app')!);
