import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { guardianships } from '../../db/schema/index.ts';
import type { ChatSpeaker } from '../../signaling/chat-port.ts';
import { SignalingError } from '../../signaling/signaling-error.ts';
import type { LiveChatEvent } from '../../signaling/protocol/livechat.ts';
import type { UserChat, UserChatSession, UserIdentity } from '../../signaling/user-chat-port.ts';
import type { Actor } from '../policy/types.ts';
import type { ChatRepository } from './chat-repository.ts';
import type { Messaging } from './messaging.ts';
import { speakerOf, toSignalingError } from './room-chat.ts';

export type UserChatDeps = {
  db: Db;
  messaging: Messaging;
  /** The live session as an actor (fresh clinics), or a thrown refusal. */
  actorOf(identity: UserIdentity): Promise<Actor>;
  /** A guardian acting for a dependent: a policy decision, audited. */
  actOnBehalfOf(actor: Actor, dependentId: string): Promise<void>;
  /** Live chat events addressed to a user (services.livechat.events), carried by their sockets. */
  liveChatEvents?: {
    subscribe(userId: string, listener: (e: LiveChatEvent) => void): Promise<() => Promise<void>>;
  };
};

const mapped = async <T>(work: () => Promise<T>): Promise<T> => {
  try {
    return await work();
  } catch (err) {
    throw toSignalingError(err);
  }
};

/**
 * The user socket's chat: the account as a chat speaker outside any call (presence 'absent', as
 * on HTTP), plus, for a guardian, one speaker per dependent the policy lets them act for. Each
 * conversation is spoken in by the repository whose list holds it; one it does not know goes to
 * the account's own repository, whose decision refuses a non-member with not_found.
 */
export class UserChatService implements UserChat {
  constructor(private readonly deps: UserChatDeps) {}

  async open(identity: UserIdentity): Promise<UserChatSession> {
    const load = () => this.#repositories(identity);
    return new UserChatSessionImpl(
      await load(),
      load,
      this.deps.messaging,
      identity.userId,
      this.deps.liveChatEvents,
    );
  }

  /** The account's repository, then one per dependent a guardian may act for now (fresh clinics and guardianships). */
  async #repositories(identity: UserIdentity): Promise<ChatRepository[]> {
    let actor: Actor;
    try {
      actor = await this.deps.actorOf(identity);
    } catch {
      throw new SignalingError('not_allowed', 'the session is no longer valid');
    }
    const forActor = (a: Actor) =>
      this.deps.messaging.forActor({ kind: 'user', actor: a, presence: 'absent' });
    const repos = [forActor(actor)];
    if (actor.role === 'guardian') {
      const dependents = await this.deps.db
        .select({ id: guardianships.dependentId })
        .from(guardianships)
        .where(eq(guardianships.guardianId, actor.userId));
      for (const { id } of dependents) {
        const allowed = await this.deps.actOnBehalfOf(actor, id).then(
          () => true,
          () => false,
        );
        if (allowed) repos.push(forActor({ ...actor, onBehalfOf: id }));
      }
    }
    return repos;
  }
}

class UserChatSessionImpl implements UserChatSession {
  readonly #owner = new Map<string, ChatRepository>();

  constructor(
    private repos: ChatRepository[],
    private readonly load: () => Promise<ChatRepository[]>,
    private readonly messaging: Messaging,
    private readonly userId: string,
    private readonly liveChatEvents: UserChatDeps['liveChatEvents'],
  ) {}

  watchLiveChat(listener: (e: LiveChatEvent) => void) {
    return this.liveChatEvents?.subscribe(this.userId, listener) ?? Promise.resolve(async () => {});
  }

  async refresh() {
    const repos = await this.load();
    this.repos = repos;
    this.#owner.clear();
  }

  async list() {
    const lists = await mapped(() => Promise.all(this.repos.map((r) => r.list())));
    const all = lists.flatMap((list, i) => {
      for (const c of list) this.#owner.set(c.id, this.repos[i]!);
      return list;
    });
    return all.sort((a, b) => b.lastSeq - a.lastSeq);
  }

  async summary(conversationId: string) {
    const repo = await this.#resolve(conversationId);
    return repo ? mapped(() => repo.summary(conversationId)) : undefined;
  }

  speaker(conversationId: string): ChatSpeaker {
    return speakerOf(this.#owner.get(conversationId) ?? this.repos[0]!, conversationId);
  }

  watchNew(listener: (conversationId: string | undefined) => void) {
    return this.messaging.fanOut.subscribeMember(this.userId, (id) => {
      if (id === undefined) return listener(undefined);
      // Who the user speaks as may have changed too (a new dependent, a new clinic): load it again first.
      void this.refresh()
        .then(() => this.#resolve(id))
        .then(
          (repo) => repo && listener(id),
          () => {},
        );
    });
  }

  /** The repository that may read a conversation (learned from the lists, or found by asking each). */
  async #resolve(conversationId: string): Promise<ChatRepository | undefined> {
    const known = this.#owner.get(conversationId);
    if (known) return known;
    for (const repo of this.repos) {
      const found = await repo.summary(conversationId).catch(() => undefined);
      if (found) {
        this.#owner.set(conversationId, repo);
        return repo;
      }
    }
    return undefined;
  }
}
