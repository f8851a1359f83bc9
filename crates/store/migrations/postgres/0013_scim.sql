-- People and groups an identity provider pushes through SCIM, each the
-- resource as Sesame serves it back (JSON, without `meta`). `name_key` is
-- the lower-cased userName (Users) or displayName (Groups): unique per kind.
CREATE TABLE scim_resources (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    name_key TEXT NOT NULL,
    body TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, id),
    UNIQUE (kind, name_key)
);
