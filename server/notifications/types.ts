/**
 * How CareCall sends e-mail and SMS. Generic on purpose: identity sends one-time codes and
 * invitation links today; appointment reminders send through the same interface.
 */
export type Channel = 'email' | 'sms';

export type OutboundMessage = {
  channel: Channel;
  /** E-mail address or E.164 phone number. Never logged. */
  recipient: string;
  /** Which template produced the message, e.g. 'login_code'; useful for filtering and metrics. */
  template: string;
  subject?: string;
  body: string;
  /** Same key = same message: a retried send must not deliver twice. */
  idempotencyKey: string;
};

export interface NotificationProvider {
  readonly kind: string;
  /** Resolves once the message is accepted for delivery; returns the provider's message id. */
  send(message: OutboundMessage): Promise<{ id: string; duplicate: boolean }>;
}
