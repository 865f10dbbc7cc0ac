ALTER TABLE "conversations" ADD COLUMN "last_change" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "change_seq" bigint;--> statement-breakpoint
CREATE INDEX "messages_change_idx" ON "messages" USING btree ("conversation_id","change_seq") WHERE "messages"."change_seq" is not null;