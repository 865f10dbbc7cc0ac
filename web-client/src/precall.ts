import { deviceCheck, httpRoundTrip, signalingReachable, type CheckResult } from './precall-checks.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const results: CheckResult[] = [];
(window as unknown as { precall: { results: CheckResult[]; done: boolean } }).precall = { results, done: false };

function show(result: CheckResult) {
  results.push(result);
  const li = document.createElement('li');
  li.dataset.check = result.name;
  li.dataset.state = result.state;
  li.textContent = `${result.name}: ${result.detail}`;
  $('checks').append(li);
}

async function fillDevices(stream: MediaStream) {
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [kind, id] of [['videoinput', 'camera'], ['audioinput', 'microphone']] as const) {
    const select = $<HTMLSelectElement>(id);
    const current = stream.getTracks().find((t) => t.kind === (kind === 'videoinput' ? 'video' : 'audio'))?.getSettings().deviceId;
    select.replaceChildren(
      ...devices.filter((d) => d.kind === kind).map((d, i) => new Option(d.label || `${id} ${i + 1}`, d.deviceId, false, d.deviceId === current)),
    );
  }
}

function meterMicrophone(stream: MediaStream) {
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const tick = () => {
    analyser.getFloatTimeDomainData(samples);
    $<HTMLMeterElement>('mic-level').value = Math.min(1, Math.sqrt(samples.reduce((a, s) => a + s * s, 0) / samples.length) * 4);
    requestAnimationFrame(tick);
  };
  tick();
}

function testTone() {
  const context = new AudioContext();
  const osc = context.createOscillator();
  osc.frequency.value = 440;
  osc.connect(context.destination);
  osc.start();
  osc.stop(context.currentTime + 0.6);
}

async function start() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  history.replaceState(null, '', location.pathname);
  $('test-speaker').onclick = testTone;
  let stream: MediaStream | undefined;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    $<HTMLVideoElement>('preview').srcObject = stream;
    await fillDevices(stream);
    meterMicrophone(stream);
  } catch {
    // reported by the device checks below
  }
  show(deviceCheck('camera', stream?.getVideoTracks()[0]));
  show(deviceCheck('microphone', stream?.getAudioTracks()[0]));
  show(await httpRoundTrip(location.origin));
  if (token) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const signaling = await signalingReachable(`${scheme}://${location.host}/ws`, token, (url, protocols) => new WebSocket(url, protocols) as never);
    show(signaling);
    if (signaling.state === 'ok') {
      const join = $<HTMLAnchorElement>('join');
      join.href = `/app/#token=${encodeURIComponent(token)}`;
      join.hidden = false;
    }
  } else {
    show({ name: 'signaling', state: 'warn', detail: 'open this page from your consultation link to test the connection' });
  }
  stream?.getTracks().forEach((t) => t.addEventListener('ended', () => show(deviceCheck(t.kind === 'video' ? 'camera' : 'microphone', undefined))));
  (window as unknown as { precall: { done: boolean } }).precall.done = true;
}

void start();
