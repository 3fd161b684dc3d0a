-- The audit trail; see the Postgres migration of the same number. Entities
-- are kept newline-separated (SQLite has no arrays).
CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    recorded    INTEGER NOT NULL,
    patient_id  TEXT    NOT NULL DEFAULT '',
    agent       TEXT    NOT NULL DEFAULT '',
    org         TEXT    NOT NULL DEFAULT '',
    purpose     TEXT    NOT NULL DEFAULT '',
    break_glass INTEGER NOT NULL DEFAULT 0,
    action      TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    entities    TEXT    NOT NULL DEFAULT '',
    raw         BLOB    NOT NULL,
    chain_pos   INTEGER UNIQUE,
    prev_hash   BLOB,
    hash        BLOB
);
CREATE INDEX audit_events_unsealed ON audit_events (seq) WHERE chain_pos IS NULL;
CREATE INDEX audit_events_patient ON audit_events (patient_id, recorded) WHERE patient_id <> '';
CREATE INDEX audit_events_agent ON audit_events (agent, recorded);
CREATE INDEX audit_events_org ON audit_events (org, recorded);
CREATE INDEX audit_events_btg ON audit_events (recorded) WHERE break_glass = 1;
CREATE INDEX audit_events_recorded ON audit_events (recorded);
