-- Hand-edited: entries written before this migration were hashed with plain sha256 (version 1)
-- and keep verifying that way; the application writes every new entry as version 2 (HMAC-SHA256
-- with the chain key, kept outside the database). No default afterwards: a node still running the
-- old code cannot append unkeyed entries unnoticed, its insert fails instead.
ALTER TABLE "audit_log" ADD COLUMN "hash_version" smallint DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "audit_log" ALTER COLUMN "hash_version" DROP DEFAULT;
