-- Why a request ended Failed (the stable message the requester reads).
ALTER TABLE requests ADD COLUMN failure_reason TEXT;
