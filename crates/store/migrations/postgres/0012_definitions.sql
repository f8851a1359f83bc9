-- Access flows and bundles made through the API: the same declaration as
-- the configuration file's, as the JSON its author sent.
CREATE TABLE definitions (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, name)
);
