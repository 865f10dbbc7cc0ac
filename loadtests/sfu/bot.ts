import { MediaStreamTrack } from 'werift';
import type { types } from 'mediasoup-client';
import type { MediaControl } from './media-control.ts';
import { ReceiveCounter } from './receive-counter.ts';
import { startSyntheticSource } from './synthetic-media.ts';
import { createBotDevice } from './werift-env.ts';

/** Wires a mediasoup-client transport's connect/produce events to the control plane. */
function wire(transport: types.Transport, control: MediaControl) {
  transport.on(
    'connect',
    ({ dtlsParameters }, ok, fail) => void control.connect(transport.id, dtlsParameters).then(ok, fail),
  );
  transport.on(
    'produce',
    ({ kind, rtpParameters }, ok, fail) =>
      void control.produce(transport.id, kind, rtpParameters).then((id) => ok({ id }), fail),
  );
}

async function joinedDevice(control: MediaControl) {
  const device = await createBotDevice();
  await device.load({ routerRtpCapabilities: await control.routerRtpCapabilities() });
  const producerIds = await control.join(device.rtpCapabilities);
  return { device, producerIds };
}

/** Sends synthetic audio + video through one send transport. */
export class Publisher {
  #stops: (() => void)[] = [];
  /** RTP packets written, both streams: what each subscriber should receive. */
  sent = 0;
  private constructor(
    private readonly control: MediaControl,
    private readonly transport: types.Transport,
  ) {}

  static async start(control: MediaControl): Promise<Publisher> {
    const { device } = await joinedDevice(control);
    const transport = device.createSendTransport({
      ...(await control.createTransport('send')),
      iceServers: [],
    });
    wire(transport, control);
    const pub = new Publisher(control, transport);
    for (const kind of ['audio', 'video'] as const) {
      const track = new MediaStreamTrack({ kind });
      await transport.produce({ track: track as never });
      pub.#stops.push(startSyntheticSource(track, kind, () => pub.sent++));
    }
    return pub;
  }

  close() {
    this.#stops.forEach((s) => s());
    this.transport.close();
    this.control.close();
  }
}

/** Consumes every producer already in the room over one receive transport and counts what arrives. */
export class Subscriber {
  readonly counters: ReceiveCounter[] = [];
  /** The server's UDP port this subscriber's media comes from. */
  serverUdpPort: number | undefined;
  private constructor(
    readonly control: MediaControl,
    private readonly transport: types.Transport,
  ) {}

  static async start(control: MediaControl): Promise<Subscriber> {
    try {
      const { device, producerIds } = await joinedDevice(control);
      const info = await control.createTransport('recv');
      const transport = device.createRecvTransport({ ...info, iceServers: [] });
      wire(transport, control);
      const sub = new Subscriber(control, transport);
      sub.serverUdpPort = info.iceCandidates.find((c) => c.protocol === 'udp')?.port;
      for (const producerId of producerIds) {
        const consumed = await control.consume(producerId);
        const consumer = await transport.consume({
          id: consumed.consumerId,
          producerId,
          kind: consumed.kind,
          rtpParameters: consumed.rtpParameters,
        });
        const counter = new ReceiveCounter();
        (consumer.track as unknown as MediaStreamTrack).onReceiveRtp.subscribe((rtp) =>
          counter.onPacket(rtp.header.sequenceNumber),
        );
        sub.counters.push(counter);
        await control.resume(consumed.consumerId);
      }
      await sub.#connected();
      return sub;
    } catch (err) {
      control.close();
      throw err;
    }
  }

  get consumerCount() {
    return this.counters.length;
  }

  get received() {
    return this.counters.reduce((n, c) => n + c.received, 0);
  }

  get connectionState() {
    return this.transport.connectionState;
  }

  close() {
    this.transport.close();
    this.control.close();
  }

  /** DTLS up and at least one packet on every stream: a bot that never connects must not count. */
  async #connected(timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (this.counters.some((c) => c.received === 0)) {
      if (Date.now() > deadline) {
        this.close();
        throw new Error(
          `subscriber got no media within ${timeoutMs} ms (state ${this.transport.connectionState})`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
