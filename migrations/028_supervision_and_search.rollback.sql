-- Undo 028: supervisors read clocks as agents do (024), the lookup by contact and the agents'
-- window go, and with the search allowances.
-- squawk-ignore-file ban-drop-table, ban-drop-function -- the rollback drops what 028 made
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP POLICY IF EXISTS cc_sla_clocks_supervisor_read ON cc_sla_clocks;
DROP FUNCTION IF EXISTS cc_private.find_customers(text, text);
DROP FUNCTION IF EXISTS cc_private.supervised_agents();
DROP TABLE IF EXISTS cc_agent_search_budget;
