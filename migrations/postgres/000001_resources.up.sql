-- Every version of every resource, in one commit-ordered log (seq). This is
-- the history, and the feed for _since, subscriptions and bulk export.
CREATE TABLE resource_history (
    seq          bigserial   PRIMARY KEY,
    type         text        NOT NULL,
    id           text        NOT NULL,
    version      bigint      NOT NULL,
    patient_id   text        NOT NULL DEFAULT '',
    last_updated timestamptz NOT NULL,
    deleted      boolean     NOT NULL DEFAULT false,
    owner        text        NOT NULL DEFAULT '',
    raw          bytea,
    UNIQUE (type, id, version)
);
CREATE INDEX resource_history_type_seq ON resource_history (type, seq);
CREATE INDEX resource_history_last_updated ON resource_history (last_updated);

-- The current version of each resource, for reads by id and for search.
CREATE TABLE resources (
    type         text        NOT NULL,
    id           text        NOT NULL,
    version      bigint      NOT NULL,
    patient_id   text        NOT NULL DEFAULT '',
    last_updated timestamptz NOT NULL,
    deleted      boolean     NOT NULL DEFAULT false,
    owner        text        NOT NULL DEFAULT '',
    raw          bytea,
    PRIMARY KEY (type, id)
);
CREATE INDEX resources_patient ON resources (patient_id, type) WHERE patient_id <> '';

-- sharedcare_conflict raises SQLSTATE SC409 unless ok: a version check the
-- server evaluates inside a batch, so that a write whose precondition fails
-- aborts its own transaction rather than reporting after the commit.
CREATE FUNCTION sharedcare_conflict(ok boolean, msg text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT ok THEN
        RAISE EXCEPTION '%', msg USING ERRCODE = 'SC409';
    END IF;
END;
$$;
