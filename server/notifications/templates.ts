import type { Channel, OutboundMessage } from './types.ts';

// Message texts in one place. Bodies carry codes and links, so messages are never logged.

export function loginCodeMessage(
  channel: Channel,
  recipient: string,
  code: string,
  challengeId: string,
  ttlMinutes: number,
): OutboundMessage {
  return {
    channel,
    recipient,
    template: 'login_code',
    ...(channel === 'email' ? { subject: 'Your CareCall sign-in code' } : {}),
    body: `Your CareCall sign-in code is ${code}. It expires in ${ttlMinutes} minutes. If you did not try to sign in, ignore this message.`,
    idempotencyKey: `login_code:${challengeId}`,
  };
}

export function invitationMessage(
  recipient: string,
  link: string,
  clinicName: string,
  invitationId: string,
): OutboundMessage {
  return {
    channel: 'email',
    recipient,
    template: 'invitation',
    subject: `You are invited to ${clinicName} on CareCall`,
    body: `You have been invited to join ${clinicName} on CareCall. Open this link to set up your account (it works once): ${link}`,
    idempotencyKey: `invitation:${invitationId}`,
  };
}
