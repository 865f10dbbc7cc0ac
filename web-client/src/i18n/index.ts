import { de } from './de.ts';
import { en, type Catalogue, type MessageKey } from './en.ts';

export type { MessageKey };
export const catalogues: Record<string, Catalogue> = { en, de };
export const hasMessage = (key: string): key is MessageKey => key in en;
export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string;

/** `?lang=de` wins; otherwise the first of the browser's languages we have; English last. */
export function pickLanguage(search: string, languages: readonly string[]): string {
  const asked = new URLSearchParams(search).get('lang');
  for (const tag of [asked, ...languages]) {
    const base = tag?.toLowerCase().split('-')[0];
    if (base && catalogues[base]) return base;
  }
  return 'en';
}

export function translator(lang: string): Translate {
  const catalogue = catalogues[lang] ?? en;
  return (key, values = {}) =>
    (catalogue[key] ?? en[key] ?? key).replace(/\{(\w+)\}/g, (_, name: string) =>
      String(values[name] ?? `{${name}}`),
    );
}

/** The page's language, chosen once at load. */
export const lang =
  typeof location === 'undefined'
    ? 'en'
    : pickLanguage(location.search, navigator.languages ?? [navigator.language]);
export const t = translator(lang);

/** "3 min 05 s" / "42 s" */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return m > 0 ? t('unit.minutes', { m, s: String(s).padStart(2, '0') }) : t('unit.seconds', { s });
}

/** "12:34" or "1:02:03" for the call timer. */
export function clock(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const mm = String(Math.floor((total % 3600) / 60)).padStart(h ? 2 : 1, '0');
  const ss = String(total % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}
