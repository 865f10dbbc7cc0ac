import { RtpHeader, RtpPacket, type MediaStreamTrack } from 'werift';

/**
 * Synthetic RTP at realistic rates, so the SFU forwards what a camera and a microphone would send:
 * VP8 30 fps (~500 kbps: 2 x 1000-byte packets per frame, a 10-packet keyframe every 2 s) and Opus
 * 20 ms frames (50 packets/s). The VP8 payload descriptor and keyframe header are valid because
 * mediasoup parses them (picture id rewriting; consumers wait for a keyframe after resume).
 */
export function startSyntheticSource(
  track: MediaStreamTrack,
  kind: 'audio' | 'video',
  onSent: () => void = () => {},
): () => void {
  let seq = Math.floor(Math.random() * 65535);
  let timestamp = Math.floor(Math.random() * 2 ** 31);
  let pictureId = 0;
  let frame = 0;
  const send = (payload: Buffer, marker: boolean) => {
    const header = new RtpHeader({ sequenceNumber: seq, timestamp, marker, payloadType: 96, ssrc: 1 });
    seq = (seq + 1) & 0xffff;
    track.writeRtp(new RtpPacket(header, payload));
    onSent();
  };
  const tick =
    kind === 'audio'
      ? () => {
          send(Buffer.alloc(100, 0x55), false);
          timestamp = (timestamp + 960) >>> 0;
        }
      : () => {
          const keyframe = frame++ % 60 === 0;
          const packets = keyframe ? 10 : 2;
          pictureId = (pictureId + 1) & 0x7fff;
          for (let i = 0; i < packets; i++) send(vp8Packet(i === 0, keyframe, pictureId), i === packets - 1);
          timestamp = (timestamp + 3000) >>> 0;
        };
  const timer = setInterval(tick, kind === 'audio' ? 20 : 33);
  return () => clearInterval(timer);
}

function vp8Packet(first: boolean, keyframe: boolean, pictureId: number): Buffer {
  const p = Buffer.alloc(1000, 0xaa);
  p[0] = first ? 0x90 : 0x80; // X=1, S=1 on the first packet of a frame, partition 0
  p[1] = 0x80; // I: picture id present
  p[2] = 0x80 | (pictureId >> 8); // M=1: 15-bit picture id
  p[3] = pictureId & 0xff;
  if (first) {
    // VP8 payload header: show_frame=1, P=0 for a keyframe; keyframes carry start code and size.
    p[4] = keyframe ? 0x10 : 0x11;
    p.set([0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01], 5); // 640x360
  }
  return p;
}
