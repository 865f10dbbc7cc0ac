import type { RoomChat } from './chat-port.ts';
import type { RoomFiles } from './files-port.ts';
import type { IceServerInfo, Method, RequestData, ResponseData } from './protocol/index.ts';
import type { JoinGrantCheck } from './join-grants.ts';
import type { Member } from './member.ts';
import type { RoomHub } from './room-hub.ts';

/** What room requests may use besides the member who sent them. */
export type RoomRequestDeps = {
  hub: RoomHub;
  /** TURN servers with credentials for this participant (empty without TURN). */
  iceServersFor?: ((peerId: string) => IceServerInfo[]) | undefined;
  /** Whether the join token still stands for something (checked at join); none = always. */
  grants?: JoinGrantCheck | undefined;
  /** The room's conversation (server messaging); none = chat requests are refused. */
  chat?: RoomChat | undefined;
  /** Credentials for the room conversation's files over HTTP; none = files.grant is refused. */
  files?: RoomFiles | undefined;
};

/** Who is asking: the room member (its session is `member.session`) and the room tier's services. */
export type RequestContext = { readonly member: Member; readonly deps: RoomRequestDeps };

/** Request handlers for one feature's methods; the feature tables merge into one for every method (handlers.ts). */
export type HandlersFor<M extends Method> = {
  [K in M]: (ctx: RequestContext, data: RequestData<K>) => Promise<ResponseData[K]>;
};
