-- The audit trail. Rows are appended (in a write's own transaction, or in a
-- group commit for reads) without a hash; a sealer then links committed rows
-- into the chain, assigning chain_pos and hashing each with its predecessor.
-- Sealing in commit order, not insert order, keeps writers from queueing on
-- a chain head.
CREATE TABLE audit_events (
    seq         bigserial   PRIMARY KEY,
    id          text        NOT NULL UNIQUE,
    recorded    timestamptz NOT NULL,
    patient_id  text        NOT NULL DEFAULT '',
    agent       text        NOT NULL DEFAULT '',
    org         text        NOT NULL DEFAULT '',
    purpose     text        NOT NULL DEFAULT '',
    break_glass boolean     NOT NULL DEFAULT false,
    action      text        NOT NULL,
    outcome     text        NOT NULL,
    entities    text[]      NOT NULL DEFAULT '{}',
    raw         bytea       NOT NULL,
    chain_pos   bigint      UNIQUE,
    prev_hash   bytea,
    hash        bytea
);
CREATE INDEX audit_events_unsealed ON audit_events (seq) WHERE chain_pos IS NULL;
CREATE INDEX audit_events_patient ON audit_events (patient_id, recorded) WHERE patient_id <> '';
CREATE INDEX audit_events_agent ON audit_events (agent, recorded);
CREATE INDEX audit_events_org ON audit_events (org, recorded);
CREATE INDEX audit_events_btg ON audit_events (recorded) WHERE break_glass;
CREATE INDEX audit_events_recorded ON audit_events (recorded);
CREATE INDEX audit_events_entities ON audit_events USING gin (entities);
