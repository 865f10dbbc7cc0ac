import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from '../i18n/index.ts';
import type { RemoteTrack } from '../room-client.ts';
import type { CallState, CallStore } from './call-store.ts';
import { probe } from './probe.ts';

export type Layout = 'grid' | 'speaker';
type TileModel = {
  id: string;
  peerId: string;
  name: string;
  video: RemoteTrack | undefined;
  screen: boolean;
  audioMuted: boolean;
};

/** Receiver-driven simulcast: the layer whose width best fits the rendered tile. */
function watchTileSize(video: HTMLVideoElement, onLayer: (spatialLayer: number) => void) {
  let current = -1;
  const observer = new ResizeObserver(([entry]) => {
    const width = (entry?.contentRect.width ?? 0) * devicePixelRatio;
    const layer = width <= 360 ? 0 : width <= 720 ? 1 : 2;
    if (layer !== current) onLayer((current = layer));
  });
  observer.observe(video);
  return () => observer.disconnect();
}

/** One tile per remote camera (even before its video arrives) and one per screen share. */
export function tilesOf(s: CallState): TileModel[] {
  const tracks = [...s.remote.values()];
  const audioMuted = (peerId: string) =>
    tracks.some((r) => r.peerId === peerId && r.kind === 'audio' && s.pausedProducers.has(r.producerId));
  const name = (peerId: string) => {
    const p = s.peers.get(peerId) ?? s.participants.find((x) => x.peerId === peerId);
    return p?.displayName ?? (p ? t(`participants.role.${p.role}` as never) : peerId);
  };
  const peerIds = new Set([...s.peers.keys(), ...tracks.map((r) => r.peerId)]);
  const tiles: TileModel[] = [...peerIds].map((peerId) => ({
    id: `tile-${peerId}`,
    peerId,
    name: name(peerId),
    video: tracks.find((r) => r.peerId === peerId && r.kind === 'video' && r.source !== 'screen'),
    screen: false,
    audioMuted: audioMuted(peerId),
  }));
  for (const r of tracks) {
    if (r.kind === 'video' && r.source === 'screen') {
      tiles.unshift({
        id: `tile-${r.peerId}-screen`,
        peerId: r.peerId,
        name: t('tile.screenOf', { name: name(r.peerId) }),
        video: r,
        screen: true,
        audioMuted: false,
      });
    }
  }
  return tiles;
}

function RemoteTile({
  tile,
  store,
  speaking,
  main,
}: {
  tile: TileModel;
  store: CallStore;
  speaking: boolean;
  main: boolean;
}) {
  const box = useRef<HTMLDivElement>(null);
  const video = useRef<HTMLVideoElement>(null);
  const track = tile.video;
  useEffect(() => {
    const el = video.current;
    if (!el || !track) return;
    el.srcObject = new MediaStream([track.track]);
    el.dataset.consumer = track.consumerId;
    el.requestVideoFrameCallback(() => (probe.firstRemoteFrameAt ||= performance.now()));
    if (track.source === 'screen') return;
    return watchTileSize(
      el,
      (layer) => void store.client.setPreferredLayer(track.consumerId, layer).catch(() => undefined),
    );
  }, [track?.consumerId]);
  const quality = store.state.quality.find((q) => q.peerId === tile.peerId);
  const cls = [
    'tile',
    tile.screen ? 'screen' : '',
    speaking ? 'speaking' : '',
    tile.audioMuted ? 'muted' : '',
    main ? 'main' : '',
  ]
    .filter(Boolean)
    .join(' ');
  return (
    <div id={tile.id} class={cls} ref={box} role="group" aria-label={tile.name}>
      <video autoPlay playsInline muted aria-hidden="true" ref={video} />
      {!track && (
        <span class="avatar" aria-hidden="true">
          {tile.name.slice(0, 1).toUpperCase()}
        </span>
      )}
      <span class="label">
        {tile.name}
        {tile.audioMuted && <span class="muted-mark"> ({t('tile.muted')})</span>}
      </span>
      {quality && !tile.screen && (
        <span
          class="quality"
          data-level={quality.quality}
          title={`uplink ${quality.uplink ?? '-'}/10, downlink ${quality.downlink ?? '-'}/10, rtt ${quality.rttMs ?? '-'} ms`}
        >
          {quality.quality}
        </span>
      )}
      <button
        type="button"
        class="fullscreen"
        aria-label={t('tile.fullscreen', { name: tile.name })}
        onClick={() => void box.current?.requestFullscreen().catch(() => undefined)}
      >
        <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
          <path
            d="M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5"
            fill="none"
            stroke="currentColor"
            stroke-width="2"
          />
        </svg>
      </button>
    </div>
  );
}

/** The own camera: small, in a corner, draggable with mouse, touch or pen (and arrow keys). */
function SelfView({
  track,
  speaking,
  camOff,
}: {
  track: MediaStreamTrack | undefined;
  speaking: boolean;
  camOff: boolean;
}) {
  const video = useRef<HTMLVideoElement>(null);
  const [pos, setPos] = useState<{ right: number; bottom: number }>({ right: 12, bottom: 12 });
  useEffect(() => {
    if (video.current) video.current.srcObject = track ? new MediaStream([track]) : null;
  }, [track]);
  const drag = (e: PointerEvent) => {
    const el = e.currentTarget as HTMLElement;
    const parent = el.offsetParent as HTMLElement | null;
    if (!parent) return;
    el.setPointerCapture(e.pointerId);
    const start = { x: e.clientX, y: e.clientY, ...pos };
    const move = (m: PointerEvent) => {
      const right = Math.min(
        Math.max(0, start.right - (m.clientX - start.x)),
        parent.clientWidth - el.offsetWidth,
      );
      const bottom = Math.min(
        Math.max(0, start.bottom - (m.clientY - start.y)),
        parent.clientHeight - el.offsetHeight,
      );
      setPos({ right, bottom });
    };
    const up = () => {
      el.removeEventListener('pointermove', move);
      el.removeEventListener('pointerup', up);
    };
    el.addEventListener('pointermove', move);
    el.addEventListener('pointerup', up);
  };
  const nudge = (e: KeyboardEvent) => {
    const step = { ArrowLeft: [24, 0], ArrowRight: [-24, 0], ArrowUp: [0, 24], ArrowDown: [0, -24] }[e.key];
    if (!step) return;
    e.preventDefault();
    setPos((p) => ({ right: Math.max(0, p.right + step[0]!), bottom: Math.max(0, p.bottom + step[1]!) }));
  };
  return (
    <div
      id="tile-local"
      class={`tile local${speaking ? ' speaking' : ''}${camOff ? ' off' : ''}`}
      style={{ right: `${pos.right}px`, bottom: `${pos.bottom}px` }}
      onPointerDown={drag}
      onKeyDown={nudge}
      tabIndex={0}
      role="group"
      aria-label={t('tile.dragHint')}
    >
      <video autoPlay playsInline muted aria-hidden="true" ref={video} />
      <span class="label">{t('tile.you')}</span>
    </div>
  );
}

/** Remote audio plays through its own elements, on the chosen speaker. */
export function RemoteAudio({ store, state }: { store: CallStore; state: CallState }) {
  const tracks = [...state.remote.values()].filter((r) => r.kind === 'audio');
  return (
    <div id="audio" hidden>
      {tracks.map((r) => (
        <audio
          key={r.consumerId}
          autoPlay
          data-consumer={r.consumerId}
          ref={(el) => {
            if (!el || el.srcObject) return;
            el.srcObject = new MediaStream([r.track]);
            store.client.attachAudioOutput(el);
          }}
        />
      ))}
    </div>
  );
}

export function Stage({ store, state, layout }: { store: CallStore; state: CallState; layout: Layout }) {
  const tiles = tilesOf(state);
  const selfSpeaking = state.activeSpeaker !== undefined && state.activeSpeaker === state.selfId;
  // Speaker view: a screen share first, else whoever speaks, else the first one in.
  const mainId =
    layout === 'speaker'
      ? (tiles.find((x) => x.screen) ?? tiles.find((x) => x.peerId === state.activeSpeaker) ?? tiles[0])?.id
      : undefined;
  return (
    <main
      id="stage"
      class={`layout-${layout}${tiles.length === 0 ? ' empty' : ''}`}
      aria-label={t('participants.title')}
      data-count={tiles.length}
    >
      {tiles.length === 0 && state.phase === 'inCall' && <p class="alone">{t('banner.alone')}</p>}
      {tiles.map((tile) => (
        <RemoteTile
          key={tile.id}
          tile={tile}
          store={store}
          speaking={!tile.screen && tile.peerId === state.activeSpeaker}
          main={tile.id === mainId}
        />
      ))}
      {state.localVideo && (
        <SelfView track={state.localVideo} speaking={selfSpeaking} camOff={state.camOff} />
      )}
    </main>
  );
}
