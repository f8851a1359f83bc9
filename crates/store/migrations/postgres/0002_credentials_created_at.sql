ALTER TABLE requests ADD COLUMN credentials_created_at BIGINT;
