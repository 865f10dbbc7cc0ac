CREATE TABLE "data_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"scope" text NOT NULL,
	"kek_version" integer NOT NULL,
	"wrapped_key" "bytea" NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "data_keys_scope_unique" UNIQUE("scope")
);
