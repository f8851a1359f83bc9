-- An extension of Active access waiting for approval (self-serve flows):
-- JSON {until, by, reason, approvals}; NULL when none is asked.
ALTER TABLE requests ADD COLUMN extension_asked TEXT;
