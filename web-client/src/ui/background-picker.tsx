import { t, type MessageKey } from '../i18n/index.ts';
import {
  BACKGROUND_IMAGES,
  type BackgroundImageId,
  type BackgroundMode,
} from '../media/background-effect.ts';

const IMAGES = Object.keys(BACKGROUND_IMAGES) as BackgroundImageId[];
const KINDS = ['off', 'blur', 'replace'] as const;

type Props = {
  /** Element ids are prefixed with it: the room page and the pre-call page each have one picker. */
  idPrefix: string;
  value: BackgroundMode;
  busy?: boolean;
  onChange: (mode: BackgroundMode) => void;
};

/** Off / Blur / Replace (with the image); a radio group, so arrow keys move between the choices. */
export function BackgroundPicker({ idPrefix, value, busy = false, onChange }: Props) {
  const image = value.kind === 'replace' ? value.image : IMAGES[0]!;
  const pick = (kind: (typeof KINDS)[number]) =>
    onChange(kind === 'replace' ? { kind, image } : kind === 'blur' ? { kind } : { kind: 'off' });
  return (
    <fieldset id={`${idPrefix}-background`} class="background-picker" aria-busy={busy}>
      <legend>{t('background.label')}</legend>
      {KINDS.map((kind) => (
        <label key={kind}>
          <input
            type="radio"
            id={`${idPrefix}-background-${kind}`}
            name={`${idPrefix}-background`}
            value={kind}
            checked={value.kind === kind}
            disabled={busy}
            onChange={() => pick(kind)}
          />
          {t(`background.${kind}`)}
        </label>
      ))}
      {value.kind === 'replace' && (
        <label>
          {t('background.image')}
          <select
            id={`${idPrefix}-background-image`}
            value={image}
            disabled={busy}
            onChange={(e) =>
              onChange({
                kind: 'replace',
                image: (e.currentTarget as HTMLSelectElement).value as BackgroundImageId,
              })
            }
          >
            {IMAGES.map((id) => (
              <option key={id} value={id}>
                {t(`background.image.${id}` as MessageKey)}
              </option>
            ))}
          </select>
        </label>
      )}
      {busy && <span role="status">{t('background.loading')}</span>}
    </fieldset>
  );
}
