export * from './close-reasons.ts';
export * from './errors.ts';
export * from './join-claims.ts';
export * from './limits.ts';
export * from './messages.ts';
export * from './credentials.ts';
export * from './moderation.ts';
