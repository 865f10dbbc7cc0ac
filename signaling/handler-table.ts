import type { Participant } from './participant.ts';
import type { Method, RequestData, ResponseData } from './protocol/index.ts';

/** Request handlers for some of the protocol's methods; the feature tables merge into one for every method. */
export type HandlersFor<M extends Method> = { [K in M]: (p: Participant, data: RequestData<K>) => Promise<ResponseData[K]> };
