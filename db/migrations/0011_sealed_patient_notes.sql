-- Note bodies are sealed from now on. Rows written before keep their text in plaintext_body until
-- the start-up step (PatientRecords.sealPlaintextNotes) seals them: the key-encryption key lives in
-- configuration, not in the database, so SQL alone cannot seal them.
ALTER TABLE "patient_notes" RENAME COLUMN "body" TO "plaintext_body";--> statement-breakpoint
ALTER TABLE "patient_notes" ALTER COLUMN "plaintext_body" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "patient_notes" ADD COLUMN "sealed_body" bytea;--> statement-breakpoint
ALTER TABLE "patient_notes" ADD CONSTRAINT "patient_notes_one_body" CHECK (("patient_notes"."sealed_body" is null) <> ("patient_notes"."plaintext_body" is null));
