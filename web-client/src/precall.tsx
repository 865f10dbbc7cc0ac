import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from './i18n/index.ts';
import { canChooseSpeaker } from './ui/speaker-choice.ts';
import type { BackgroundMode } from './media/background-effect.ts';
import { BackgroundControl, formatBackground } from './ui/background-control.ts';
import { BackgroundPicker } from './ui/background-picker.tsx';
import { deviceCheck, httpRoundTrip, signalingReachable, type CheckResult } from './precall-checks.ts';

const results: CheckResult[] = [];
/** The preview's effect: the same code the room runs, so the patient sees what the doctor will see. */
const background = new BackgroundControl();
const hook = { results, done: false, background, backgroundError: '' };
(window as unknown as { precall: typeof hook }).precall = hook;

type Choice = { cam: string; mic: string; spk: string };
type SelectProps = {
  id: string;
  label: string;
  devices: MediaDeviceInfo[];
  value: string;
  onChange: (id: string) => void;
};

function DeviceSelect({ id, label, devices, value, onChange }: SelectProps) {
  return (
    <label for={id}>
      {label}
      <select id={id} value={value} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value)}>
        {devices.map((d, i) => (
          <option key={d.deviceId} value={d.deviceId}>
            {d.label || `${label} ${i + 1}`}
          </option>
        ))}
      </select>
    </label>
  );
}

function meter(stream: MediaStream, onLevel: (level: number) => void): () => void {
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  let frame = 0;
  const tick = () => {
    analyser.getFloatTimeDomainData(samples);
    onLevel(Math.min(1, Math.sqrt(samples.reduce((a, s) => a + s * s, 0) / samples.length) * 4));
    frame = requestAnimationFrame(tick);
  };
  tick();
  return () => (cancelAnimationFrame(frame), void context.close());
}

function testTone(sinkId: string) {
  const context = new AudioContext() as AudioContext & { setSinkId?: (id: string) => Promise<void> };
  if (sinkId && sinkId !== 'default') void context.setSinkId?.(sinkId).catch(() => undefined);
  const osc = context.createOscillator();
  osc.frequency.value = 440;
  osc.connect(context.destination);
  osc.start();
  osc.stop(context.currentTime + 0.6);
}

/** The join link: the token plus the devices picked here that differ from what the browser chose. */
export function joinHref(
  token: string,
  chosen: Choice,
  initial: Choice,
  bg: BackgroundMode = { kind: 'off' },
) {
  let fragment = `token=${encodeURIComponent(token)}`;
  if (bg.kind !== 'off') fragment += `&bg=${encodeURIComponent(formatBackground(bg))}`;
  for (const key of ['cam', 'mic', 'spk'] as const)
    if (chosen[key] && chosen[key] !== initial[key]) fragment += `&${key}=${encodeURIComponent(chosen[key])}`;
  return `/app/${location.search}#${fragment}`;
}

/** What the patient picked here, handed to the room when they join without leaving the page (the widget). */
export type PrecallChoice = {
  cameraId?: string;
  microphoneId?: string;
  speakerId?: string;
  background: BackgroundMode;
};

type PrecallProps = {
  token: string | null;
  /** Join in place (the widget) instead of following a link to the room page. */
  onJoin?: (choice: PrecallChoice) => void;
  /** Bumped when the embedding page asks to join: joins as soon as the checks allow. */
  joinSignal?: number;
};

export function Precall({ token, onJoin, joinSignal = 0 }: PrecallProps) {
  const video = useRef<HTMLVideoElement>(null);
  const [stream, setStream] = useState<MediaStream>();
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const [checks, setChecks] = useState<CheckResult[]>([]);
  const [level, setLevel] = useState(0);
  const [choice, setChoice] = useState<Choice>({ cam: '', mic: '', spk: 'default' });
  const [initial, setInitial] = useState<Choice>({ cam: '', mic: '', spk: 'default' });
  const [joinable, setJoinable] = useState(false);
  const [bg, setBg] = useState<BackgroundMode>({ kind: 'off' });
  const [bgBusy, setBgBusy] = useState(false);
  const [bgError, setBgError] = useState(false);
  const show = (r: CheckResult) => {
    results.push(r);
    setChecks([...results]);
  };

  const open = async (cam?: string, mic?: string) => {
    stream?.getTracks().forEach((tr) => tr.stop());
    const s = await navigator.mediaDevices.getUserMedia({
      audio: mic ? { deviceId: { exact: mic } } : true,
      video: cam ? { deviceId: { exact: cam } } : true,
    });
    setStream(s);
    if (video.current) video.current.srcObject = await previewOf(s, bg);
    const now = {
      cam: s.getVideoTracks()[0]?.getSettings().deviceId ?? '',
      mic: s.getAudioTracks()[0]?.getSettings().deviceId ?? '',
    };
    setChoice((c) => ({ ...c, ...now }));
    return { s, now };
  };

  useEffect(() => {
    void (async () => {
      let s: MediaStream | undefined;
      try {
        const opened = await open();
        s = opened.s;
        setInitial({ ...opened.now, spk: 'default' });
        setDevices(await navigator.mediaDevices.enumerateDevices());
      } catch {
        // reported by the device checks below
      }
      show(deviceCheck('camera', s?.getVideoTracks()[0]));
      show(deviceCheck('microphone', s?.getAudioTracks()[0]));
      show(await httpRoundTrip(location.origin));
      if (token) {
        const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
        const signaling = await signalingReachable(
          `${scheme}://${location.host}/ws`,
          token,
          (url, protocols) => new WebSocket(url, protocols) as never,
        );
        show(signaling);
        setJoinable(signaling.state === 'ok');
      } else {
        show({ name: 'signaling', state: 'warn', detail: t('precall.noToken') });
      }
      hook.done = true;
    })();
  }, []);
  useEffect(() => (stream ? meter(stream, setLevel) : undefined), [stream]);
  // Joining in place unmounts the check: the room opens the devices itself.
  useEffect(() => () => stream?.getTracks().forEach((tr) => tr.stop()), [stream]);
  const joinInPlace = () =>
    onJoin?.({
      ...(choice.cam ? { cameraId: choice.cam } : {}),
      ...(choice.mic ? { microphoneId: choice.mic } : {}),
      ...(choice.spk && choice.spk !== 'default' ? { speakerId: choice.spk } : {}),
      background: bg,
    });
  useEffect(() => {
    if (joinSignal > 0 && joinable) joinInPlace();
  }, [joinSignal, joinable]);

  /** The preview shows the camera through the chosen effect (the microphone meter keeps the raw stream). */
  const previewOf = async (s: MediaStream, mode: BackgroundMode) => {
    const [camera] = s.getVideoTracks();
    if (!camera) return s;
    setBgBusy(mode.kind !== 'off');
    try {
      const track = await background.outputFor(camera, mode);
      setBgError(false);
      return new MediaStream([track]);
    } catch (err) {
      hook.backgroundError = (err as { code?: string }).code ?? 'error';
      setBgError(true);
      setBg({ kind: 'off' });
      return s;
    } finally {
      setBgBusy(false);
    }
  };
  const chooseBackground = (mode: BackgroundMode) => {
    setBg(mode);
    if (stream)
      void previewOf(stream, mode).then((shown) => {
        if (video.current) video.current.srcObject = shown;
      });
  };

  const pick = (kind: 'cam' | 'mic') => (id: string) =>
    void open(kind === 'cam' ? id : choice.cam, kind === 'mic' ? id : choice.mic).catch((err: Error) =>
      show({ name: kind === 'cam' ? 'camera' : 'microphone', state: 'fail', detail: err.message }),
    );
  const of = (kind: MediaDeviceKind) => devices.filter((d) => d.kind === kind);
  return (
    <>
      <header>
        <strong>{t('appName')}</strong>
        <span>{t('precall.title')}</span>
      </header>
      <main>
        <video id="preview" autoPlay playsInline muted ref={video} aria-label={t('precall.preview')} />
        <section aria-label={t('precall.checks')}>
          <DeviceSelect
            id="camera"
            label={t('devices.camera')}
            devices={of('videoinput')}
            value={choice.cam}
            onChange={pick('cam')}
          />
          <DeviceSelect
            id="microphone"
            label={t('devices.microphone')}
            devices={of('audioinput')}
            value={choice.mic}
            onChange={pick('mic')}
          />
          <meter id="mic-level" min={0} max={1} value={level} aria-label={t('precall.micLevel')} />
          {canChooseSpeaker() && (
            <DeviceSelect
              id="speaker"
              label={t('devices.speaker')}
              devices={of('audiooutput')}
              value={choice.spk}
              onChange={(spk) => setChoice((c) => ({ ...c, spk }))}
            />
          )}
          <BackgroundPicker idPrefix="precall" value={bg} busy={bgBusy} onChange={chooseBackground} />
          {bgError && (
            <p id="background-error" role="alert">
              {t('banner.backgroundFailed')}
            </p>
          )}
          <button id="test-speaker" type="button" onClick={() => testTone(choice.spk)}>
            {t('precall.testSpeaker')}
          </button>
          <ul id="checks" aria-live="polite">
            {checks.map((r, i) => (
              <li key={i} data-check={r.name} data-state={r.state}>
                {t(`check.${r.name}` as never)}: {r.detail}
              </li>
            ))}
          </ul>
          {onJoin ? (
            <button id="join" type="button" class="button" hidden={!joinable} onClick={joinInPlace}>
              {t('precall.join')}
            </button>
          ) : (
            <a
              id="join"
              class="button"
              hidden={!joinable || !token}
              href={token ? joinHref(token, choice, initial, bg) : undefined}
            >
              {t('precall.join')}
            </a>
          )}
        </section>
      </main>
    </>
  );
}
