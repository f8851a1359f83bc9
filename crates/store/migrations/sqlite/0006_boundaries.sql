-- Permission boundaries Sesame put on standing principals, and the boundary
-- each had before: kept here, never in the principal's own (writable) tags.
CREATE TABLE boundaries (
    integration TEXT NOT NULL,
    principal_type TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    boundary_arn TEXT NOT NULL,
    previous_arn TEXT,
    put_by TEXT NOT NULL,
    put_at BIGINT NOT NULL,
    PRIMARY KEY (integration, principal_type, name)
);
