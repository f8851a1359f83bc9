-- An integration deleted while grants were live on it (`apply
-- --revoke-active`): kept, and served for revocation only, until they are
-- revoked; then it is deleted.
ALTER TABLE definitions ADD COLUMN retiring_since BIGINT;
