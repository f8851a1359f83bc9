-- Access scopes: a name and an AQL query over the inventory.
CREATE TABLE access_scopes (
    name TEXT PRIMARY KEY,
    query TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
