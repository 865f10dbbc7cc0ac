import { describe, expect, it } from 'vitest';
import { de } from './de.ts';
import { en } from './en.ts';
import { pickLanguage, translator } from './index.ts';

describe('string catalogues', () => {
  it('German has every English key and fills the same placeholders', () => {
    expect(Object.keys(de).sort()).toEqual(Object.keys(en).sort());
    const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const key of Object.keys(en) as (keyof typeof en)[])
      expect(names(de[key]), key).toEqual(names(en[key]));
  });

  it('?lang= wins, then the first browser language we have, else English; unknown ones are skipped', () => {
    expect(pickLanguage('?lang=de', ['en-US'])).toBe('de');
    expect(pickLanguage('?lang=xx', ['fr-FR', 'de-AT'])).toBe('de');
    expect(pickLanguage('', ['fr-FR', 'it'])).toBe('en');
    expect(pickLanguage('', ['DE-ch'])).toBe('de');
  });

  it('fills values and leaves an unknown placeholder visible rather than empty', () => {
    const t = translator('de');
    expect(t('waiting.position', { position: 2, count: 3 })).toBe(
      'Sie sind Nummer 2 von 3 in der Warteschlange.',
    );
    expect(translator('en')('banner.otherLeft')).toBe('{name} left the call');
  });
});
