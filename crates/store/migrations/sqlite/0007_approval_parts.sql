-- Who must approve what (parts), and who approved so far.
ALTER TABLE requests ADD COLUMN approval_parts TEXT;
ALTER TABLE requests ADD COLUMN approvals TEXT;
