-- Owning a record of a patient is a care relationship (access model,
-- section 3). It is now kept in care_relations as a row with an empty
-- source (src_type = ''), written with every version and never removed
-- (the owner of a deleted record stays related), so that a search across
-- patients answers every relationship from one small table, and the
-- patient context reads the owners from there too.
INSERT INTO care_relations (patient_id, org, src_type, src_id)
SELECT DISTINCT patient_id, owner, '', '' FROM resource_history
WHERE patient_id <> '' AND owner <> ''
ON CONFLICT DO NOTHING;
DROP INDEX resources_patient_owner;
