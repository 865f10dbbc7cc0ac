CREATE TABLE "conditions" (
	"id" text PRIMARY KEY NOT NULL,
	"encounter_id" text NOT NULL,
	"patient_id" text NOT NULL,
	"position" integer NOT NULL,
	"clinical_status" text NOT NULL,
	"sealed_coding" "bytea" NOT NULL,
	"recorded_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "encounters" (
	"id" text PRIMARY KEY NOT NULL,
	"appointment_id" text NOT NULL,
	"clinic_id" text NOT NULL,
	"patient_id" text NOT NULL,
	"author_id" text NOT NULL,
	"version" integer NOT NULL,
	"previous_id" text,
	"status" text NOT NULL,
	"revision" integer DEFAULT 1 NOT NULL,
	"sealed_content" "bytea" NOT NULL,
	"sealed_amendment_reason" "bytea",
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"finalised_at" timestamp (3) with time zone,
	CONSTRAINT "encounters_version_chain" CHECK (("encounters"."version" = 1) = ("encounters"."previous_id" is null) and ("encounters"."version" = 1 or "encounters"."status" = 'finalised')),
	CONSTRAINT "encounters_finalised_at" CHECK (("encounters"."status" = 'finalised') = ("encounters"."finalised_at" is not null))
);
--> statement-breakpoint
CREATE TABLE "record_documents" (
	"id" text PRIMARY KEY NOT NULL,
	"patient_id" text NOT NULL,
	"clinic_id" text NOT NULL,
	"encounter_id" text NOT NULL,
	"kind" text NOT NULL,
	"blob_id" text,
	"file_id" text,
	"media_type" text NOT NULL,
	"size" integer NOT NULL,
	"sha256" text,
	"signed_at" timestamp (3) with time zone,
	"certificate_serial" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "record_documents_kind_source" CHECK (("record_documents"."kind" = 'summary_pdf' and "record_documents"."blob_id" is not null and "record_documents"."file_id" is null and "record_documents"."sha256" is not null)
        or ("record_documents"."kind" = 'chat_file' and "record_documents"."file_id" is not null and "record_documents"."blob_id" is null))
);
--> statement-breakpoint
CREATE TABLE "webhook_outbox" (
	"id" text PRIMARY KEY NOT NULL,
	"clinic_id" text NOT NULL,
	"event" text NOT NULL,
	"payload" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp (3) with time zone
);
--> statement-breakpoint
ALTER TABLE "conditions" ADD CONSTRAINT "conditions_encounter_id_encounters_id_fk" FOREIGN KEY ("encounter_id") REFERENCES "public"."encounters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conditions" ADD CONSTRAINT "conditions_patient_id_users_id_fk" FOREIGN KEY ("patient_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "encounters" ADD CONSTRAINT "encounters_appointment_id_appointments_id_fk" FOREIGN KEY ("appointment_id") REFERENCES "public"."appointments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "encounters" ADD CONSTRAINT "encounters_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "encounters" ADD CONSTRAINT "encounters_patient_id_users_id_fk" FOREIGN KEY ("patient_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "encounters" ADD CONSTRAINT "encounters_author_id_users_id_fk" FOREIGN KEY ("author_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "record_documents" ADD CONSTRAINT "record_documents_patient_id_users_id_fk" FOREIGN KEY ("patient_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "record_documents" ADD CONSTRAINT "record_documents_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "record_documents" ADD CONSTRAINT "record_documents_encounter_id_encounters_id_fk" FOREIGN KEY ("encounter_id") REFERENCES "public"."encounters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "record_documents" ADD CONSTRAINT "record_documents_file_id_files_id_fk" FOREIGN KEY ("file_id") REFERENCES "public"."files"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_outbox" ADD CONSTRAINT "webhook_outbox_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "conditions_encounter_position_unique" ON "conditions" USING btree ("encounter_id","position");--> statement-breakpoint
CREATE INDEX "conditions_patient_idx" ON "conditions" USING btree ("patient_id");--> statement-breakpoint
CREATE UNIQUE INDEX "encounters_appointment_version_unique" ON "encounters" USING btree ("appointment_id","version");--> statement-breakpoint
CREATE UNIQUE INDEX "encounters_previous_unique" ON "encounters" USING btree ("previous_id");--> statement-breakpoint
CREATE INDEX "encounters_patient_idx" ON "encounters" USING btree ("patient_id","created_at");--> statement-breakpoint
CREATE INDEX "record_documents_patient_idx" ON "record_documents" USING btree ("patient_id","created_at");--> statement-breakpoint
CREATE INDEX "record_documents_encounter_idx" ON "record_documents" USING btree ("encounter_id");--> statement-breakpoint
CREATE INDEX "record_documents_sha256_idx" ON "record_documents" USING btree ("sha256");--> statement-breakpoint
CREATE UNIQUE INDEX "record_documents_file_unique" ON "record_documents" USING btree ("file_id");--> statement-breakpoint
CREATE INDEX "webhook_outbox_pending_idx" ON "webhook_outbox" USING btree ("created_at");--> statement-breakpoint
ALTER TABLE "encounters" ADD CONSTRAINT "encounters_previous_id_encounters_id_fk" FOREIGN KEY ("previous_id") REFERENCES "public"."encounters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
-- A finalised encounter version is never changed or removed (an amendment is a new version), and
-- the conditions and documents recorded with it neither: history is what was signed.
CREATE FUNCTION encounters_finalised_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'finalised' THEN
    RAISE EXCEPTION 'a finalised encounter is immutable; amend it with a new version' USING ERRCODE = 'P0001';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$;--> statement-breakpoint
CREATE TRIGGER encounters_finalised_immutable BEFORE UPDATE OR DELETE ON "encounters"
  FOR EACH ROW EXECUTE FUNCTION encounters_finalised_immutable();--> statement-breakpoint
CREATE FUNCTION record_rows_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME USING ERRCODE = 'P0001';
END $$;--> statement-breakpoint
CREATE TRIGGER conditions_append_only BEFORE UPDATE OR DELETE ON "conditions"
  FOR EACH ROW EXECUTE FUNCTION record_rows_append_only();--> statement-breakpoint
CREATE TRIGGER record_documents_append_only BEFORE UPDATE OR DELETE ON "record_documents"
  FOR EACH ROW EXECUTE FUNCTION record_rows_append_only();
