-- Searches match _id and _lastUpdated on the resources row itself (id,
-- last_updated), so their index rows were read by nothing; the write path
-- no longer writes them. They were a sixth of the rows of a bulk load.
DELETE FROM idx_token WHERE param = '_id';
DELETE FROM idx_date WHERE param = '_lastUpdated';

-- No search reads the patient of an index row (the visibility and the
-- patient's compartment are matched on resources), so the index rows no
-- longer carry it, nor idx_date_patient, which no query used: every index
-- row was 37 bytes wider than it needed to be.
DROP INDEX idx_date_patient;
ALTER TABLE idx_string DROP COLUMN patient_id;
ALTER TABLE idx_token DROP COLUMN patient_id;
ALTER TABLE idx_date DROP COLUMN patient_id;
ALTER TABLE idx_number DROP COLUMN patient_id;
ALTER TABLE idx_quantity DROP COLUMN patient_id;
ALTER TABLE idx_reference DROP COLUMN patient_id;
ALTER TABLE idx_uri DROP COLUMN patient_id;

-- resources_patient_source (patient_id, type, source) serves every query
-- that resources_patient (patient_id, type) served.
DROP INDEX resources_patient;

-- Resource bodies are compressed with lz4 where the server supports it:
-- pglz compression was 3% of the CPU of a bulk load, each body being
-- written twice (current and history). Older rows keep their compression.
DO $$
BEGIN
    ALTER TABLE resources ALTER COLUMN raw SET COMPRESSION lz4;
    ALTER TABLE resource_history ALTER COLUMN raw SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'this server has no lz4: resource bodies stay compressed with pglz';
END;
$$;
