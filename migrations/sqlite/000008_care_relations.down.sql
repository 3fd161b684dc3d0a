DROP INDEX resources_patient_owner;
DROP TABLE care_relations;
