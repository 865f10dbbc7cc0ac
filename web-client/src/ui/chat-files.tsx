import { useEffect, useMemo, useState } from 'preact/hooks';
import { ChatFiles } from '../chat-files.ts';
import type { ChatClient } from '../chat-client.ts';
import { FileError, type FileCredentials, type FileTransfer } from '../file-transfer.ts';
import { hasMessage, lang, t } from '../i18n/index.ts';
import './chat-files.css';

/** The files of a chat: uploads keep going while the panel is closed, so this lives beside the chat client. */
export function useChatFiles(
  chat: ChatClient | undefined,
  credentials: () => FileCredentials,
): ChatFiles | undefined {
  const files = useMemo(
    () =>
      chat
        ? new ChatFiles(credentials(), {
            conversationId: () => chat.conversationId,
            send: (body) => void chat.send(body),
          })
        : undefined,
    [chat],
  );
  const [, setTick] = useState(0);
  useEffect(() => files?.on('changed', () => setTick((n) => n + 1)), [files]);
  return files;
}

const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte'] as const;
export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return new Intl.NumberFormat(lang, {
    style: 'unit',
    unit: units[unit],
    unitDisplay: 'short',
    maximumFractionDigits: unit === 0 ? 0 : 1,
  }).format(value);
}

/** A refusal as the person reads it: known codes have their own sentence, others say what failed. */
export function refusalText(name: string, err: FileError): string {
  const key = `file.error.${err.code}`;
  return hasMessage(key) ? t(key, { name }) : t('file.error.other', { name, code: err.code });
}

/** Asks for a fresh link when clicked and lets the browser download it (Content-Disposition: attachment). */
async function download(files: ChatFiles, fileId: string) {
  const link = await files.api.link(fileId);
  const a = document.createElement('a');
  a.href = link.url;
  a.download = link.name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
}

/** A file message: thumbnail for images, name and size as the server has them, a download button. */
export function FileMessage({ files, fileId }: { files: ChatFiles; fileId: string }) {
  const [failed, setFailed] = useState<string>('');
  const info = files.info(fileId);
  if (!info) return <span class="file loading">{t('file.loading')}</span>;
  if (info instanceof FileError) return <span class="file unavailable">{t('file.unavailable')}</span>;
  return (
    <span class="file" data-file-id={fileId}>
      {info.thumbnail && <img class="thumbnail" src={info.thumbnail} alt={info.name} />}
      <span class="file-name">{info.name}</span>
      <small class="file-size">{formatSize(info.size)}</small>
      <button
        type="button"
        class="download"
        aria-label={t('file.download', { name: info.name })}
        onClick={() =>
          void download(files, fileId).then(
            () => setFailed(''),
            (err: unknown) =>
              setFailed(err instanceof FileError ? refusalText(info.name, err) : t('file.downloadFailed')),
          )
        }
      >
        {t('file.downloadShort')}
      </button>
      {failed && (
        <span class="file-error" role="alert">
          {failed}
        </span>
      )}
    </span>
  );
}

function TransferRow({ files, transfer }: { files: ChatFiles; transfer: FileTransfer }) {
  const name = transfer.file.name;
  if (transfer.state === 'failed')
    return (
      <li class="transfer failed">
        <span role="alert" class="file-error">
          {refusalText(name, transfer.error ?? new FileError('network_error', 0, ''))}
        </span>
        <button type="button" onClick={() => files.dismiss(transfer.id)}>
          {t('file.dismiss')}
        </button>
      </li>
    );
  const percent = transfer.file.size ? Math.floor((transfer.sent / transfer.file.size) * 100) : 0;
  return (
    <li class="transfer">
      <span class="file-name">{name}</span>
      <progress max={100} value={percent} aria-label={t('file.progress', { name })} />
      <small class="percent">{percent} %</small>
      <button
        type="button"
        class="cancel"
        aria-label={t('file.cancelNamed', { name })}
        onClick={() => void files.cancel(transfer.id)}
      >
        {t('file.cancel')}
      </button>
    </li>
  );
}

/** My uploads in flight, each with its progress bar and Cancel; refusals stay until dismissed. */
export function Transfers({ files }: { files: ChatFiles }) {
  if (!files.transfers.length) return null;
  return (
    <ul class="transfers" aria-label={t('file.uploads')}>
      {files.transfers.map((x) => (
        <TransferRow key={x.id} files={files} transfer={x} />
      ))}
    </ul>
  );
}

/** The attach button: a labelled file input, styled as a button, reachable with Tab. */
export function AttachButton({ files }: { files: ChatFiles }) {
  return (
    <label class="attach button">
      {t('file.attach')}
      <input
        id="chat-file"
        type="file"
        multiple
        class="visually-hidden"
        onChange={(e) => {
          const input = e.currentTarget as HTMLInputElement;
          for (const f of input.files ?? []) files.send(f);
          input.value = '';
        }}
      />
    </label>
  );
}

/** Drag and drop onto the panel: highlighted while something is dragged over it. */
export function useDropZone(files: ChatFiles | undefined) {
  const [over, setOver] = useState(false);
  const carriesFiles = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes('Files');
  return {
    over,
    handlers: files
      ? {
          onDragOver: (e: DragEvent) => {
            if (!carriesFiles(e)) return;
            e.preventDefault();
            if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
            setOver(true);
          },
          onDragLeave: () => setOver(false),
          onDrop: (e: DragEvent) => {
            if (!carriesFiles(e)) return;
            e.preventDefault();
            setOver(false);
            for (const f of e.dataTransfer?.files ?? []) files.send(f);
          },
        }
      : {},
  };
}
