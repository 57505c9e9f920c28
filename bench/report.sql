-- bench/report.sql: the markdown tables of throughput, from the table
-- throughput that run.sh loads.  psql variables: duration, reps,
-- n_uniform, have_batch.
\set ON_ERROR_STOP on

-- payments per second of each run (batch: transactions x 100)
CREATE TEMP VIEW run AS
SELECT rep, sync, scenario, clients, contender, lost, payments, status,
       tps * CASE contender WHEN 'batch' THEN 100 ELSE 1 END AS pps
  FROM throughput WHERE rep > 0;

-- the median of each cell
CREATE TEMP VIEW cell AS
SELECT sync, scenario, clients, contender,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY pps) AS pps,
       percentile_cont(0.5) WITHIN GROUP (
         ORDER BY lost::float8 / nullif(payments, 0)) AS lost_share,
       min(lost) AS lost_min, max(lost) AS lost_max,
       count(*) AS runs, bool_and(status = 'ok') AS ok
  FROM run
 GROUP BY 1, 2, 3, 4;

-- the ratio of two contenders in a cell: the median of their ratios
-- within each repetition, where they ran one shortly after the other
CREATE TEMP VIEW versus AS
SELECT a.sync, a.scenario, a.clients, a.contender, b.contender AS reference,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY a.pps / b.pps) AS ratio
  FROM run a
  JOIN run b USING (rep, sync, scenario, clients)
 GROUP BY 1, 2, 3, 4, 5;

SELECT format('### Throughput: payments per second (median of %s runs of %s s), ratio to plpgsql',
              :reps, :duration);
SELECT '';
SELECT 'pgbench -M prepared, -j 2, one payment of 0.01 per transaction (batch: 100 per call,'
       ' counted as payments). enrollment and batch run in the default configuration:'
       ' enrollment.events = wal, one logical decoding message per payment, which a consumer'
       ' (pg_recvlogical, pgoutput with messages) streams from a slot during the whole run;'
       ' off is enrollment.apply_payment() with enrollment.events = off, notify with'
       ' enrollment.events = notify (one NOTIFY per payment). The server runs with'
       ' wal_level = logical for every contender.'
       ' plpgsql, enrollment, off, notify and batch send an idempotency key with every'
       ' payment; naive and sql have none. *uniform*: a random one of '
       || to_char(:n_uniform, 'FM999,999,999') || ' enrollments per payment; *hot*: every payment'
       ' to one enrollment. naive loses payments: "lost" is the share of its payments missing from'
       ' amount_paid (median; min-max of the count). A cell marked FAIL had a failed check.'
       ' A ratio is the median of the ratios within each repetition, where the contenders ran'
       ' one after the other, so it may differ from the ratio of the medians.';
SELECT '';

\set scenario uniform
\set sync on
\ir report_cell.sql
\set sync off
\ir report_cell.sql
\set scenario hot
\set sync on
\ir report_cell.sql
\set sync off
\ir report_cell.sql

-- the batch target: payments per second of batches over single calls
SELECT x FROM (VALUES
  ('#### batch ÷ enrollment: batches of 100 over single calls, hot enrollment'),
  (''),
  ('| clients | synchronous_commit = on | synchronous_commit = off |'),
  ('|--:|--:|--:|')) AS h (x)
 WHERE :'have_batch' = 't';
SELECT format('| %s | %s× | %s× |', clients,
              round(max(ratio) FILTER (WHERE sync = 'on')::numeric, 1),
              round(max(ratio) FILTER (WHERE sync = 'off')::numeric, 1))
  FROM versus
 WHERE contender = 'batch' AND reference = 'enrollment' AND scenario = 'hot'
 GROUP BY clients ORDER BY clients;
SELECT '' WHERE :'have_batch' = 't';
