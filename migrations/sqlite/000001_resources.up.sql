-- The embedded store's schema: the same tables and columns as the Postgres
-- one, so that SQL built for the query plan reads both. SQLite differences:
--  * STRICT tables, so a value of the wrong type is an error, not a silent
--    conversion.
--  * last_updated is an integer of microseconds since the Unix epoch (UTC):
--    the precision of Postgres timestamptz, and it orders and compares as a
--    number, which text timestamps only do at one fixed format.
--  * seq is AUTOINCREMENT so that a number is never handed out twice, even if
--    the newest entries are removed: readers of the log keep cursors into it.

-- Every version of every resource, in one commit-ordered log (seq). This is
-- the history, and the feed for _since, subscriptions and bulk export.
CREATE TABLE resource_history (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      INTEGER NOT NULL CHECK (version > 0),
    patient_id   TEXT    NOT NULL DEFAULT '',
    last_updated INTEGER NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    owner        TEXT    NOT NULL DEFAULT '',
    raw          BLOB,
    -- A deletion marker has no body, and every other version has one.
    CHECK ((deleted = 1) = (raw IS NULL)),
    UNIQUE (type, id, version)
) STRICT;
CREATE INDEX resource_history_type_seq ON resource_history (type, seq);
CREATE INDEX resource_history_last_updated ON resource_history (last_updated);

-- The current version of each resource, for reads by id and for search.
CREATE TABLE resources (
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      INTEGER NOT NULL CHECK (version > 0),
    patient_id   TEXT    NOT NULL DEFAULT '',
    last_updated INTEGER NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    owner        TEXT    NOT NULL DEFAULT '',
    raw          BLOB,
    CHECK ((deleted = 1) = (raw IS NULL)),
    PRIMARY KEY (type, id)
) STRICT;
CREATE INDEX resources_patient ON resources (patient_id, type) WHERE patient_id <> '';
