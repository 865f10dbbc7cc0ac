import { useEffect, useRef } from 'preact/hooks';
import { formatDuration, t } from '../i18n/index.ts';
import type { CallState } from './call-store.ts';
import { useNow } from './hooks.ts';

/** What a knocking patient sees: their own preview, how long they waited, their place, the doctor's note. */
export function WaitingScreen({ state }: { state: CallState }) {
  const now = useNow();
  const video = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    if (video.current)
      video.current.srcObject = state.localVideo ? new MediaStream([state.localVideo]) : null;
  }, [state.localVideo]);
  const s = state.waitingStatus;
  const waited = s ? s.waitedMs + (now - state.waitingStatusAt) : 0;
  return (
    <main id="stage" class="waiting-screen" aria-labelledby="waiting-title">
      <section id="waiting-status">
        <h1 id="waiting-title">{t('waiting.title')}</h1>
        {s && (
          <>
            <p class="waited" data-waited-ms={Math.round(waited)}>
              {t('waiting.waited', { time: formatDuration(waited) })}
            </p>
            <p class="position" data-position={s.position}>
              {t('waiting.position', { position: s.position, count: s.waitingCount })}
            </p>
            <p class={`notified ${s.hostNotified ? 'yes' : 'no'}`}>
              {s.hostNotified ? t('waiting.hostNotified') : t('waiting.hostAbsent')}
            </p>
            {s.message && (
              <blockquote id="host-message" aria-live="polite">
                <strong>{t('waiting.message')}:</strong> {s.message.text}
              </blockquote>
            )}
          </>
        )}
      </section>
      <figure class="preview">
        <video autoPlay playsInline muted ref={video} aria-label={t('waiting.preview')} />
        <figcaption>{t('waiting.preview')}</figcaption>
      </figure>
    </main>
  );
}
