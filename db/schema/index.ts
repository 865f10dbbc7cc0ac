// One file per domain; this index is what drizzle and the db client see.
export * from './rooms.ts';
export * from './identity.ts';
export * from './records.ts';
export * from './audit.ts';
export * from './notifications.ts';
export * from './scheduling.ts';
export * from './consultations.ts';
export * from './calendar-feeds.ts';
export * from './icd10.ts';
export * from './data-keys.ts';
export * from './messaging.ts';
export * from './files.ts';
export * from './encounters.ts';
export * from './webhooks.ts';
export * from './widget.ts';
export * from './livechat.ts';
