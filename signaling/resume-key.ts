import { randomBytes } from 'node:crypto';

/** The secret part of a resume key: 18 random bytes, base64url. */
const SECRET_CHARS = 24;
/** Resume keys are at most 64 characters (the credential's syntax): what is left names the node. */
const NODE_ID = /^[A-Za-z0-9_-]{1,40}$/;

/**
 * A resume key is the secret that rebinds a dropped client to its session, followed by the id of
 * the node that holds the session (when there are many): a client that comes back through another
 * node (a load balancer's choice) is relayed to that node without a directory lookup. The node id is
 * no secret; the 144 random bits are.
 */
export function newResumeKey(nodeId?: string): string {
  const secret = randomBytes(18).toString('base64url');
  return nodeId && NODE_ID.test(nodeId) ? secret + nodeId : secret;
}

/** The node that holds the session this key resumes, if the key names one. */
export function resumeKeyHome(resumeKey: string): string | undefined {
  return resumeKey.length > SECRET_CHARS ? resumeKey.slice(SECRET_CHARS) : undefined;
}
