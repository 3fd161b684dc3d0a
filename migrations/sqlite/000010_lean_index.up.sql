-- See the Postgres migration of the same number.
DELETE FROM idx_token WHERE param = '_id';
DELETE FROM idx_date WHERE param = '_lastUpdated';
DROP INDEX resources_patient;
DROP INDEX idx_date_patient;
ALTER TABLE idx_string DROP COLUMN patient_id;
ALTER TABLE idx_token DROP COLUMN patient_id;
ALTER TABLE idx_date DROP COLUMN patient_id;
ALTER TABLE idx_number DROP COLUMN patient_id;
ALTER TABLE idx_quantity DROP COLUMN patient_id;
ALTER TABLE idx_reference DROP COLUMN patient_id;
ALTER TABLE idx_uri DROP COLUMN patient_id;
