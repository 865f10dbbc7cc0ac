-- A patient cannot be in two consultations at once: two active appointments of one patient may not
-- overlap in time (same rule and SQLSTATE 23P01 as the doctor's constraint in 0002). Guardians book
-- for each dependent as that dependent, so siblings at the same time stay possible.
ALTER TABLE "appointments" ADD CONSTRAINT "appointments_patient_no_overlap"
  EXCLUDE USING gist ("patient_id" WITH =, tstzrange("starts_at", "ends_at", '[)') WITH &&)
  WHERE ("status" NOT IN ('cancelled', 'no_show'));
