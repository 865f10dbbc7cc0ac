import { RoomClient, type RemoteTrack } from './room-client.ts';
import { collectInboundStats, type InboundStats } from './stats.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
const stage = $('stage');

/** Hooks for automated browser tests and the pre-call checks; no PHI here. */
const probe = {
  joinStartedAt: 0,
  joinedAt: 0,
  firstRemoteFrameAt: 0,
  error: '' as string,
  client: undefined as RoomClient | undefined,
  stats: async (): Promise<InboundStats> => collectInboundStats(probe.client),
};
(window as unknown as { carecall: typeof probe }).carecall = probe;

function tile(id: string, label: string, local = false) {
  let el = document.getElementById(`tile-${id}`);
  if (!el) {
    el = document.createElement('div');
    el.id = `tile-${id}`;
    el.className = `tile${local ? ' local' : ''}`;
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // audio plays through its own element
    const name = document.createElement('span');
    name.className = 'label';
    name.textContent = label;
    el.append(video, name);
    stage.append(el);
  }
  return el;
}

function attachRemote(remote: RemoteTrack) {
  const el = tile(remote.peerId, remote.peer?.displayName ?? remote.peer?.role ?? 'Participant');
  if (remote.kind === 'video') {
    const video = el.querySelector('video')!;
    video.srcObject = new MediaStream([remote.track]);
    const onFrame = () => {
      probe.firstRemoteFrameAt ||= performance.now();
    };
    // Counts a frame actually rendered, not just a track attached.
    video.requestVideoFrameCallback(onFrame);
  } else {
    const audio = document.createElement('audio');
    audio.autoplay = true;
    audio.dataset.consumer = remote.consumerId;
    audio.srcObject = new MediaStream([remote.track]);
    el.append(audio);
  }
}

async function main() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  // Drop the token from the address bar and history as soon as it is read.
  history.replaceState(null, '', location.pathname);
  if (!token) {
    status.textContent = 'This link is missing its access token. Ask for a new link.';
    return;
  }
  status.textContent = 'Starting camera…';
  const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
  const local = tile('local', 'You', true);
  local.querySelector('video')!.srcObject = media;

  status.textContent = 'Joining…';
  probe.joinStartedAt = performance.now();
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const client = await RoomClient.join({
    signalingUrl: `${scheme}://${location.host}/ws?token=${encodeURIComponent(token)}`,
    createSocket: (url) => new WebSocket(url) as never,
    events: {
      remoteTrack: attachRemote,
      error: (err) => console.error('call error:', err.message),
      remoteTrackEnded: (consumerId) => document.querySelector(`audio[data-consumer="${consumerId}"]`)?.remove(),
      peerLeft: (peerId) => document.getElementById(`tile-${peerId}`)?.remove(),
      closed: (reason) => (status.textContent = `Call ended (${reason.replace(/_/g, ' ')})`),
    },
  });
  probe.client = client;
  probe.joinedAt = performance.now();
  status.textContent = 'In call';

  const [audioTrack] = media.getAudioTracks();
  const [videoTrack] = media.getVideoTracks();
  const mic = audioTrack ? await client.publish(audioTrack, 'mic') : undefined;
  const cam = videoTrack ? await client.publish(videoTrack, 'webcam') : undefined;

  const micButton = $<HTMLButtonElement>('toggle-mic');
  const camButton = $<HTMLButtonElement>('toggle-cam');
  const leaveButton = $<HTMLButtonElement>('leave');
  micButton.disabled = !mic;
  camButton.disabled = !cam;
  leaveButton.disabled = false;
  micButton.onclick = () => {
    if (!mic) return;
    mic.paused ? mic.resume() : mic.pause();
    micButton.textContent = mic.paused ? 'Unmute' : 'Mute';
  };
  camButton.onclick = () => {
    if (!cam) return;
    cam.paused ? cam.resume() : cam.pause();
    camButton.textContent = cam.paused ? 'Camera on' : 'Camera off';
  };
  leaveButton.onclick = () => {
    client.close();
    media.getTracks().forEach((t) => t.stop());
    status.textContent = 'You left the call';
  };
}

main().catch((err: unknown) => {
  probe.error = err instanceof Error ? err.message : String(err);
  status.textContent = `Could not join: ${probe.error}`;
});
