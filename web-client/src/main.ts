import type { NetworkQuality } from '../../signaling/protocol/index.ts';
import { RoomClient, type RemoteTrack, type Source } from './room-client.ts';
import { collectInboundStats, selectedCandidateTypes, type InboundStats } from './stats.ts';
import { renderQuality, renderWaitingList, setStatus, tile, watchTileSize } from './room-view.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Hooks for automated browser tests and diagnostics; ids and timings only, no PHI. */
const probe = {
  joinStartedAt: 0,
  joinedAt: 0,
  admittedAt: 0,
  firstRemoteFrameAt: 0,
  status: 'connecting',
  error: '' as string,
  events: [] as string[],
  client: undefined as RoomClient | undefined,
  quality: [] as NetworkQuality[],
  stats: async (): Promise<InboundStats> => collectInboundStats(probe.client),
  candidateTypes: async (): Promise<string[]> => selectedCandidateTypes(probe.client),
};
(window as unknown as { carecall: typeof probe }).carecall = probe;
const note = (event: string) => probe.events.push(event);

function attachRemote(remote: RemoteTrack, client: RoomClient) {
  const el = tile(remote.peerId, remote.peer?.displayName ?? remote.peer?.role ?? 'Participant');
  if (remote.kind === 'video') {
    const video = el.querySelector('video')!;
    video.srcObject = new MediaStream([remote.track]);
    video.dataset.consumer = remote.consumerId;
    // Counts a frame actually rendered, not just a track attached.
    video.requestVideoFrameCallback(() => (probe.firstRemoteFrameAt ||= performance.now()));
    if (remote.source !== 'screen') {
      watchTileSize(video, (layer) => void client.setPreferredLayer(remote.consumerId, layer).catch(() => undefined));
    }
  } else {
    const audio = document.createElement('audio');
    audio.autoplay = true;
    audio.dataset.consumer = remote.consumerId;
    audio.srcObject = new MediaStream([remote.track]);
    client.attachAudioOutput(audio);
    el.append(audio);
    el.classList.toggle('muted', remote.paused);
    el.dataset.audioProducer = remote.producerId;
  }
}

function toggleButton(id: string, client: RoomClient, source: Source, on: string, off: string) {
  const button = $<HTMLButtonElement>(id);
  const render = () => (button.textContent = client.isPaused(source) ? off : on);
  button.disabled = !client.published.has(source);
  button.onclick = async () => {
    await client.setPaused(source, !client.isPaused(source));
    render();
  };
  render();
  return render;
}

async function main() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get('token');
  // Drop the token from the address bar and history as soon as it is read.
  history.replaceState(null, '', location.pathname);
  if (!token) return setStatus('This link is missing its access token. Ask for a new link.');
  setStatus('Starting camera…');
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  let renderMic = () => {};
  const client: RoomClient = new RoomClient({
    signalingUrl: `${scheme}://${location.host}/ws`,
    token,
    createSocket: (url, protocols) => new WebSocket(url, protocols) as never,
    // relay=1: every byte through TURN (diagnosing restrictive networks; the TURN test).
    iceTransportPolicy: fragment.get('relay') === '1' ? 'relay' : 'all',
    events: {
      waiting: () => ((probe.status = 'waiting'), setStatus('Waiting for the doctor to let you in…')),
      admitted: () => ((probe.status = 'admitted'), (probe.admittedAt = performance.now()), setStatus('In call')),
      waitingRoom: (waiting) => renderWaitingList(waiting, client),
      remoteTrack: (remote) => attachRemote(remote, client),
      remoteTrackEnded: (consumerId) => document.querySelector(`audio[data-consumer="${consumerId}"]`)?.remove(),
      remotePaused: (producerId, paused) =>
        document.querySelector(`[data-audio-producer="${producerId}"]`)?.classList.toggle('muted', paused),
      peerLeft: (peerId) => document.getElementById(`tile-${peerId}`)?.remove(),
      networkQuality: (peers) => {
        probe.quality = peers;
        renderQuality(peers, client.peerId);
      },
      activeSpeaker: (peerId) => {
        if (!probe.events.includes(`activeSpeaker:${peerId}`)) note(`activeSpeaker:${peerId}`);
        document.querySelectorAll('.tile.speaking').forEach((el) => el.classList.remove('speaking'));
        // The speaker may be this participant: its own tile is the local one.
        document.getElementById(`tile-${peerId === client.peerId ? 'local' : peerId}`)?.classList.add('speaking');
      },
      mutedBy: (source) => {
        note(`mutedBy:${source}`);
        renderMic();
        setStatus('The doctor muted your microphone. Unmute when you want to speak.');
      },
      connection: (state) => {
        note(`connection:${state}`);
        if (state !== 'iceRestart') setStatus(state === 'reconnecting' ? 'Connection lost, reconnecting…' : 'In call');
      },
      mediaReset: () => note('mediaReset'),
      localTrack: (source, track) => {
        note(`localTrack:${source}`);
        if (source === 'webcam') document.querySelector<HTMLVideoElement>('#tile-local video')!.srcObject = new MediaStream([track]);
      },
      layersChanged: (consumerId, spatialLayer) => note(`layers:${consumerId}:${spatialLayer}`),
      closed: (reason) => ((probe.status = `closed:${reason}`), setStatus(`Call ended (${reason.replace(/_/g, ' ')})`)),
      error: (err) => console.error('call error:', err.message),
    },
  });
  probe.client = client;
  // Connecting and loading the media device overlap with the camera start-up.
  const [media] = await Promise.all([
    client.openLocalMedia(),
    // A failure here is retried by join(); only the head start is lost.
    client.prepare().catch(() => undefined),
  ]);
  tile('local', 'You', true).querySelector('video')!.srcObject = media;
  setStatus('Joining…');
  probe.joinStartedAt = performance.now();
  await client.join();
  probe.joinedAt = performance.now();
  await client.whenAdmitted();

  const [audioTrack] = media.getAudioTracks();
  const [videoTrack] = media.getVideoTracks();
  if (audioTrack) await client.publish(audioTrack, 'mic');
  if (videoTrack) await client.publish(videoTrack, 'webcam');
  renderMic = toggleButton('toggle-mic', client, 'mic', 'Mute', 'Unmute');
  toggleButton('toggle-cam', client, 'webcam', 'Camera off', 'Camera on');
  wireScreenShare(client);
  const leave = $<HTMLButtonElement>('leave');
  leave.disabled = false;
  leave.onclick = () => {
    client.leave();
    media.getTracks().forEach((t) => t.stop());
    setStatus('You left the call');
  };
}

function wireScreenShare(client: RoomClient) {
  const button = $<HTMLButtonElement>('share-screen');
  button.disabled = !navigator.mediaDevices.getDisplayMedia;
  button.onclick = async () => {
    if (client.published.has('screen')) {
      await client.unpublish('screen');
      button.textContent = 'Share screen';
      return;
    }
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const [track] = stream.getVideoTracks();
    if (!track) return;
    track.addEventListener('ended', () => void client.unpublish('screen').then(() => (button.textContent = 'Share screen')));
    await client.publish(track, 'screen');
    button.textContent = 'Stop sharing';
  };
}

main().catch((err: unknown) => {
  probe.error = err instanceof Error ? err.message : String(err);
  setStatus(`Could not join: ${probe.error}`);
});
