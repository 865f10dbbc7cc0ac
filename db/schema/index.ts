// One file per domain; this index is what drizzle and the db client see.
export * from './rooms.ts';
