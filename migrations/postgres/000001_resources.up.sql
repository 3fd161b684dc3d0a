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
