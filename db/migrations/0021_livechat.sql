-- A live chat's conversation has no doctor while it waits in the queue: doctor_id then names the
-- staff member who holds it (operator or doctor), and is required for every other kind.
ALTER TABLE "conversations" ALTER COLUMN "doctor_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "conversations" ADD CONSTRAINT "conversations_doctor_required" CHECK ("kind" = 'livechat' OR "doctor_id" IS NOT NULL);--> statement-breakpoint
CREATE TABLE "live_chat_settings" (
	"clinic_id" text PRIMARY KEY NOT NULL REFERENCES "clinics"("id"),
	"routing_mode" text DEFAULT 'auto' NOT NULL CHECK ("routing_mode" in ('auto','manual')),
	"no_answer_seconds" integer DEFAULT 120 NOT NULL CHECK ("no_answer_seconds" between 10 and 3600),
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "live_chats" (
	"conversation_id" text PRIMARY KEY NOT NULL REFERENCES "conversations"("id"),
	"clinic_id" text NOT NULL REFERENCES "clinics"("id"),
	"department" text,
	"patient_id" text NOT NULL REFERENCES "users"("id"),
	"status" text NOT NULL CHECK ("status" in ('queued','assigned','closed','offline')),
	"queued_at" timestamp (3) with time zone NOT NULL,
	"assignee_id" text REFERENCES "users"("id"),
	"assigned_at" timestamp (3) with time zone,
	"first_response_at" timestamp (3) with time zone,
	"closed_at" timestamp (3) with time zone,
	"resolution" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	-- A closed chat keeps who held it last (their transcript, the figures); a queued one has nobody.
	CONSTRAINT "live_chats_assigned_has_holder" CHECK ("status" <> 'assigned' OR ("assignee_id" IS NOT NULL AND "assigned_at" IS NOT NULL)),
	CONSTRAINT "live_chats_queued_has_none" CHECK ("status" NOT IN ('queued','offline') OR "assignee_id" IS NULL)
);
--> statement-breakpoint
CREATE INDEX "live_chats_queue_idx" ON "live_chats" USING btree ("clinic_id","queued_at","conversation_id") WHERE "status" = 'queued';--> statement-breakpoint
CREATE INDEX "live_chats_assignee_idx" ON "live_chats" USING btree ("assignee_id") WHERE "status" = 'assigned';--> statement-breakpoint
CREATE INDEX "live_chats_recent_idx" ON "live_chats" USING btree ("clinic_id","assigned_at") WHERE "assigned_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "live_chats_patient_idx" ON "live_chats" USING btree ("patient_id");--> statement-breakpoint
CREATE TABLE "operator_presence" (
	"operator_id" text NOT NULL REFERENCES "users"("id"),
	"clinic_id" text NOT NULL REFERENCES "clinics"("id"),
	"status" text DEFAULT 'offline' NOT NULL CHECK ("status" in ('available','away','offline')),
	"capacity" integer DEFAULT 3 NOT NULL CHECK ("capacity" between 0 and 50),
	"department" text,
	"lease_expires_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"last_assigned_at" timestamp (3) with time zone,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "operator_presence_pk" PRIMARY KEY("clinic_id","operator_id")
);
--> statement-breakpoint
CREATE TABLE "live_chat_canned_replies" (
	"id" text PRIMARY KEY NOT NULL,
	"clinic_id" text NOT NULL REFERENCES "clinics"("id"),
	"shortcut" text NOT NULL,
	"body" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "live_chat_canned_replies_shortcut" ON "live_chat_canned_replies" USING btree ("clinic_id","shortcut");
