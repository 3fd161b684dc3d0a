-- See the Postgres migration of the same number.
INSERT OR IGNORE INTO care_relations (patient_id, org, src_type, src_id)
SELECT DISTINCT patient_id, owner, '', '' FROM resource_history
WHERE patient_id <> '' AND owner <> '';
DROP INDEX resources_patient_owner;
