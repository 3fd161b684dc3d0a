CREATE TABLE resource_history (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    patient_id   TEXT    NOT NULL DEFAULT '',
    last_updated TEXT    NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0,
    raw          BLOB,
    UNIQUE (type, id, version)
);
CREATE INDEX resource_history_type_seq ON resource_history (type, seq);

CREATE TABLE resources (
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    patient_id   TEXT    NOT NULL DEFAULT '',
    last_updated TEXT    NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0,
    raw          BLOB,
    PRIMARY KEY (type, id)
);
CREATE INDEX resources_patient ON resources (patient_id, type) WHERE patient_id <> '';
