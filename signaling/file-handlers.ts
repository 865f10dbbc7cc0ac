import { randomUUID } from 'node:crypto';
import type { HandlersFor } from './handler-table.ts';
import type { Member } from './member.ts';
import type { FileMethod } from './protocol/index.ts';
import { SignalingError } from './signaling-error.ts';

/** One admission per admitted member: its grants name it, and it ends with the member's room session. */
const admissions = new WeakMap<Member, string>();

export const fileHandlers: HandlersFor<FileMethod> = {
  async 'files.grant'(ctx) {
    const files = ctx.deps.files;
    if (!files) throw new SignalingError('not_allowed', 'files are not available on this server');
    // Only while admitted: a waiting participant writes to the hosts and reads nothing, so it gets no files.
    if (ctx.member.status !== 'admitted')
      throw new SignalingError('not_allowed', 'files are for participants in the room');
    const { member } = ctx;
    let admission = admissions.get(member);
    if (!admission) {
      const id = (admission = randomUUID());
      admissions.set(member, id);
      member.session.onEnded(() => void files.ended(id));
    }
    const grant = await files.grant(member.claims, admission);
    // The session may have ended while the admission was being opened: end it again, after the open.
    if (member.session.ended) await files.ended(admission);
    return grant;
  },
};
