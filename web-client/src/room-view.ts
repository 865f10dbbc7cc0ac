import type { NetworkQuality, WaitingInfo } from '../../signaling/protocol/index.ts';
import type { RoomClient } from './room-client.ts';

export function setStatus(text: string) {
  document.getElementById('status')!.textContent = text;
}

export function tile(id: string, label: string, local = false) {
  let el = document.getElementById(`tile-${id}`);
  if (!el) {
    el = document.createElement('div');
    el.id = `tile-${id}`;
    el.className = `tile${local ? ' local' : ''}`;
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // remote audio plays through its own element
    const name = document.createElement('span');
    name.className = 'label';
    name.textContent = label;
    el.append(video, name);
    document.getElementById('stage')!.append(el);
  }
  return el;
}

/** Host view of who is knocking, with admit / deny per person and admit all. */
export function renderWaitingList(waiting: WaitingInfo[], client: RoomClient) {
  const panel = document.getElementById('waiting')!;
  panel.hidden = waiting.length === 0;
  const list = panel.querySelector('ul')!;
  list.replaceChildren(
    ...waiting.map((w) => {
      const li = document.createElement('li');
      li.dataset.peer = w.peerId;
      const name = document.createElement('span');
      name.textContent = w.displayName ?? w.role;
      const admit = button('Admit', 'admit', () => client.admit(w.peerId));
      const deny = button('Deny', 'deny', () => client.deny(w.peerId));
      li.append(name, admit, deny);
      return li;
    }),
  );
  panel.querySelector<HTMLButtonElement>('button.admit-all')!.onclick = () => void client.admitAll();
}

function button(text: string, cls: string, onClick: () => Promise<unknown>) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = cls;
  b.textContent = text;
  b.onclick = () => void onClick().catch((err: Error) => console.error(err.message));
  return b;
}

/** Receiver-driven simulcast: the layer whose width best fits the rendered tile. */
export function watchTileSize(video: HTMLVideoElement, onLayer: (spatialLayer: number) => void) {
  let current = -1;
  const observer = new ResizeObserver(([entry]) => {
    const width = (entry?.contentRect.width ?? 0) * devicePixelRatio;
    const layer = width <= 360 ? 0 : width <= 720 ? 1 : 2;
    if (layer !== current) onLayer((current = layer));
  });
  observer.observe(video);
}

/** A quality badge per tile; the local tile shows this participant's own link. */
export function renderQuality(peers: NetworkQuality[], selfId: string | undefined) {
  for (const q of peers) {
    const el = document.getElementById(`tile-${q.peerId === selfId ? 'local' : q.peerId}`);
    if (!el) continue;
    let badge = el.querySelector<HTMLElement>('.quality');
    if (!badge) {
      badge = document.createElement('span');
      badge.className = 'quality';
      el.append(badge);
    }
    badge.dataset.level = q.quality;
    badge.textContent = q.quality;
    badge.title = `uplink ${q.uplink ?? '-'}/10, downlink ${q.downlink ?? '-'}/10, rtt ${q.rttMs ?? '-'} ms, loss ${q.packetLossPct ?? '-'}%`;
  }
}
