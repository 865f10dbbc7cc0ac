CREATE TABLE "clinic_api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"clinic_id" text NOT NULL,
	"prefix" text NOT NULL,
	"secret_hash" text NOT NULL,
	"scopes" text[] NOT NULL,
	"label" text NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"revoked_by" text,
	CONSTRAINT "clinic_api_keys_prefix_unique" UNIQUE("prefix")
);
--> statement-breakpoint
CREATE TABLE "widget_patient_links" (
	"clinic_id" text NOT NULL,
	"external_id_hash" text NOT NULL,
	"patient_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "widget_patient_links_clinic_id_external_id_hash_pk" PRIMARY KEY("clinic_id","external_id_hash"),
	CONSTRAINT "widget_patient_links_patient_unique" UNIQUE("clinic_id","patient_id")
);
--> statement-breakpoint
CREATE TABLE "widget_settings" (
	"clinic_id" text PRIMARY KEY NOT NULL,
	"allowed_origins" text[] NOT NULL,
	"accent_color" text,
	"logo_text" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "clinic_api_keys" ADD CONSTRAINT "clinic_api_keys_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "clinic_api_keys" ADD CONSTRAINT "clinic_api_keys_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "clinic_api_keys" ADD CONSTRAINT "clinic_api_keys_revoked_by_users_id_fk" FOREIGN KEY ("revoked_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "widget_patient_links" ADD CONSTRAINT "widget_patient_links_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "widget_patient_links" ADD CONSTRAINT "widget_patient_links_patient_id_users_id_fk" FOREIGN KEY ("patient_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "widget_settings" ADD CONSTRAINT "widget_settings_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "clinic_api_keys_clinic_idx" ON "clinic_api_keys" USING btree ("clinic_id");