CREATE TABLE "icd10_codes" (
	"code" text PRIMARY KEY NOT NULL,
	"code_key" text GENERATED ALWAYS AS (replace("icd10_codes"."code", '.', '')) STORED NOT NULL,
	"title" text NOT NULL,
	"release" text NOT NULL,
	"search" "tsvector" GENERATED ALWAYS AS (to_tsvector('english'::regconfig, "icd10_codes"."title") || to_tsvector('simple'::regconfig, "icd10_codes"."title")) STORED NOT NULL,
	CONSTRAINT "icd10_codes_code_format" CHECK ("icd10_codes"."code" ~ '^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$')
);
--> statement-breakpoint
CREATE INDEX "icd10_codes_code_key_idx" ON "icd10_codes" USING btree ("code_key" text_pattern_ops);--> statement-breakpoint
CREATE INDEX "icd10_codes_search_idx" ON "icd10_codes" USING gin ("search");