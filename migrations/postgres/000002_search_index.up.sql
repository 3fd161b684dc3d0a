-- Search index: the values of every search parameter of every current
-- resource, extracted at write time in the same transaction, one table per
-- parameter type. Every row carries the owning patient's id (principle 8).
CREATE TABLE idx_string (
    res_type   text NOT NULL,
    res_id     text NOT NULL,
    patient_id text NOT NULL DEFAULT '',
    param      text NOT NULL,
    value      text NOT NULL,
    norm       text NOT NULL
);
CREATE INDEX idx_string_res ON idx_string (res_type, res_id);
CREATE INDEX idx_string_norm ON idx_string (res_type, param, norm text_pattern_ops);

CREATE TABLE idx_token (
    res_type    text NOT NULL,
    res_id      text NOT NULL,
    patient_id  text NOT NULL DEFAULT '',
    param       text NOT NULL,
    system      text NOT NULL DEFAULT '',
    code        text NOT NULL DEFAULT '',
    display     text NOT NULL DEFAULT '',
    text        text NOT NULL DEFAULT '',
    type_system text NOT NULL DEFAULT '',
    type_code   text NOT NULL DEFAULT ''
);
CREATE INDEX idx_token_res ON idx_token (res_type, res_id);
CREATE INDEX idx_token_code ON idx_token (res_type, param, code, system);

CREATE TABLE idx_date (
    res_type   text        NOT NULL,
    res_id     text        NOT NULL,
    patient_id text        NOT NULL DEFAULT '',
    param      text        NOT NULL,
    lo         timestamptz NOT NULL,
    hi         timestamptz NOT NULL
);
CREATE INDEX idx_date_res ON idx_date (res_type, res_id);
CREATE INDEX idx_date_range ON idx_date (res_type, param, lo, hi);
CREATE INDEX idx_date_patient ON idx_date (patient_id, res_type, param, lo) WHERE patient_id <> '';

CREATE TABLE idx_number (
    res_type   text    NOT NULL,
    res_id     text    NOT NULL,
    patient_id text    NOT NULL DEFAULT '',
    param      text    NOT NULL,
    value      numeric,
    lo         numeric,
    hi         numeric
);
CREATE INDEX idx_number_res ON idx_number (res_type, res_id);
CREATE INDEX idx_number_value ON idx_number (res_type, param, value);

CREATE TABLE idx_quantity (
    res_type   text    NOT NULL,
    res_id     text    NOT NULL,
    patient_id text    NOT NULL DEFAULT '',
    param      text    NOT NULL,
    value      numeric,
    lo         numeric,
    hi         numeric,
    system     text    NOT NULL DEFAULT '',
    code       text    NOT NULL DEFAULT '',
    unit       text    NOT NULL DEFAULT ''
);
CREATE INDEX idx_quantity_res ON idx_quantity (res_type, res_id);
CREATE INDEX idx_quantity_value ON idx_quantity (res_type, param, code, value);

CREATE TABLE idx_reference (
    res_type       text NOT NULL,
    res_id         text NOT NULL,
    patient_id     text NOT NULL DEFAULT '',
    param          text NOT NULL,
    target_type    text NOT NULL DEFAULT '',
    target_id      text NOT NULL DEFAULT '',
    target_version text NOT NULL DEFAULT '',
    url            text NOT NULL DEFAULT '',
    ident_system   text NOT NULL DEFAULT '',
    ident_value    text NOT NULL DEFAULT ''
);
CREATE INDEX idx_reference_res ON idx_reference (res_type, res_id);
CREATE INDEX idx_reference_target ON idx_reference (target_id, target_type, res_type, param);
CREATE INDEX idx_reference_ident ON idx_reference (ident_value, ident_system) WHERE ident_value <> '';

CREATE TABLE idx_uri (
    res_type   text NOT NULL,
    res_id     text NOT NULL,
    patient_id text NOT NULL DEFAULT '',
    param      text NOT NULL,
    value      text NOT NULL
);
CREATE INDEX idx_uri_res ON idx_uri (res_type, res_id);
CREATE INDEX idx_uri_value ON idx_uri (res_type, param, value);
