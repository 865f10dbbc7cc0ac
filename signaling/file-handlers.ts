import type { HandlersFor } from './handler-table.ts';
import type { FileMethod } from './protocol/index.ts';
import { SignalingError } from './signaling-error.ts';

export const fileHandlers: HandlersFor<FileMethod> = {
  async 'files.grant'(ctx) {
    const files = ctx.deps.files;
    if (!files) throw new SignalingError('not_allowed', 'files are not available on this server');
    // Only while admitted: a waiting participant writes to the hosts and reads nothing, so it gets no files.
    if (ctx.member.status !== 'admitted')
      throw new SignalingError('not_allowed', 'files are for participants in the room');
    return files.grant(ctx.member.claims);
  },
};
