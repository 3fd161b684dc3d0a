-- Search index: the values of every search parameter of every current
-- resource, extracted at write time in the same transaction, one table per
-- parameter type, with the tables and columns of the Postgres schema. Every
-- row carries the owning patient's id (principle 8). SQLite differences:
--  * lo and hi of idx_date are integers of microseconds since the Unix
--    epoch (UTC), like last_updated.
--  * Numbers are REAL: SQLite has no decimal type. The range a decimal's
--    precision implies is in lo and hi, so comparisons stay right to within
--    a double's 15 significant digits.
CREATE TABLE idx_string (
    res_type   TEXT NOT NULL,
    res_id     TEXT NOT NULL,
    patient_id TEXT NOT NULL DEFAULT '',
    param      TEXT NOT NULL,
    value      TEXT NOT NULL,
    norm       TEXT NOT NULL
) STRICT;
CREATE INDEX idx_string_res ON idx_string (res_type, res_id);
CREATE INDEX idx_string_norm ON idx_string (res_type, param, norm);

CREATE TABLE idx_token (
    res_type    TEXT NOT NULL,
    res_id      TEXT NOT NULL,
    patient_id  TEXT NOT NULL DEFAULT '',
    param       TEXT NOT NULL,
    system      TEXT NOT NULL DEFAULT '',
    code        TEXT NOT NULL DEFAULT '',
    display     TEXT NOT NULL DEFAULT '',
    text        TEXT NOT NULL DEFAULT '',
    type_system TEXT NOT NULL DEFAULT '',
    type_code   TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX idx_token_res ON idx_token (res_type, res_id);
CREATE INDEX idx_token_code ON idx_token (res_type, param, code, system);

CREATE TABLE idx_date (
    res_type   TEXT    NOT NULL,
    res_id     TEXT    NOT NULL,
    patient_id TEXT    NOT NULL DEFAULT '',
    param      TEXT    NOT NULL,
    lo         INTEGER NOT NULL,
    hi         INTEGER NOT NULL
) STRICT;
CREATE INDEX idx_date_res ON idx_date (res_type, res_id);
CREATE INDEX idx_date_range ON idx_date (res_type, param, lo, hi);
CREATE INDEX idx_date_patient ON idx_date (patient_id, res_type, param, lo) WHERE patient_id <> '';

CREATE TABLE idx_number (
    res_type   TEXT NOT NULL,
    res_id     TEXT NOT NULL,
    patient_id TEXT NOT NULL DEFAULT '',
    param      TEXT NOT NULL,
    value      REAL,
    lo         REAL,
    hi         REAL
) STRICT;
CREATE INDEX idx_number_res ON idx_number (res_type, res_id);
CREATE INDEX idx_number_value ON idx_number (res_type, param, value);

CREATE TABLE idx_quantity (
    res_type   TEXT NOT NULL,
    res_id     TEXT NOT NULL,
    patient_id TEXT NOT NULL DEFAULT '',
    param      TEXT NOT NULL,
    value      REAL,
    lo         REAL,
    hi         REAL,
    system     TEXT NOT NULL DEFAULT '',
    code       TEXT NOT NULL DEFAULT '',
    unit       TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX idx_quantity_res ON idx_quantity (res_type, res_id);
CREATE INDEX idx_quantity_value ON idx_quantity (res_type, param, code, value);

CREATE TABLE idx_reference (
    res_type       TEXT NOT NULL,
    res_id         TEXT NOT NULL,
    patient_id     TEXT NOT NULL DEFAULT '',
    param          TEXT NOT NULL,
    target_type    TEXT NOT NULL DEFAULT '',
    target_id      TEXT NOT NULL DEFAULT '',
    target_version TEXT NOT NULL DEFAULT '',
    url            TEXT NOT NULL DEFAULT '',
    ident_system   TEXT NOT NULL DEFAULT '',
    ident_value    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX idx_reference_res ON idx_reference (res_type, res_id);
CREATE INDEX idx_reference_target ON idx_reference (target_id, target_type, res_type, param);
CREATE INDEX idx_reference_ident ON idx_reference (ident_value, ident_system) WHERE ident_value <> '';

CREATE TABLE idx_uri (
    res_type   TEXT NOT NULL,
    res_id     TEXT NOT NULL,
    patient_id TEXT NOT NULL DEFAULT '',
    param      TEXT NOT NULL,
    value      TEXT NOT NULL
) STRICT;
CREATE INDEX idx_uri_res ON idx_uri (res_type, res_id);
CREATE INDEX idx_uri_value ON idx_uri (res_type, param, value);
