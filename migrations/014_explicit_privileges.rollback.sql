-- Undo 014: nothing is widened back. 014 only narrowed privileges, and gave service_role what
-- the service already used (reading the ledger, executing procrastinate's functions, the
-- sequences behind its tables); the code of every earlier migration works with them, and
-- widening them again would hand anon and authenticated the ledger and the change log, and
-- service_role TRUNCATE on append-only tables.
SET lock_timeout = '5s';
