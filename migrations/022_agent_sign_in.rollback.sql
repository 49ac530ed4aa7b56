-- Undo 022: the counts of attempts refused during a back-off go (the back-off itself stays).
-- squawk-ignore-file ban-drop-column -- the rollback drops the column 022 added; only the
-- service, which the rollback is for, reads it
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE cc_sign_in_failures DROP COLUMN IF EXISTS refused_while_blocked;
