-- See the Postgres migration of the same number. Resources stored before
-- it have no rows here: migrate-store and a rewrite of the resource fill
-- them. The embedded store has had no release before this migration.
CREATE TABLE care_relations (
    patient_id TEXT NOT NULL,
    org        TEXT NOT NULL,
    src_type   TEXT NOT NULL,
    src_id     TEXT NOT NULL,
    PRIMARY KEY (patient_id, org, src_type, src_id)
) WITHOUT ROWID;
CREATE INDEX care_relations_src ON care_relations (src_type, src_id);
CREATE INDEX resources_patient_owner ON resources (patient_id, owner) WHERE patient_id <> '';
