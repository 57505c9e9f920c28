-- bench/report.sql: the markdown tables of throughput and server-side cost,
-- from the tables throughput and server_side that run.sh loads.  psql
-- variables: duration, reps, n_uniform, n_server, server_reps, have_batch.
\set ON_ERROR_STOP on

-- median payments per second of each cell (batch: transactions x 100)
CREATE TEMP VIEW cell AS
SELECT sync, scenario, clients, contender,
       percentile_cont(0.5) WITHIN GROUP (
         ORDER BY tps * CASE contender WHEN 'batch' THEN 100 ELSE 1 END) AS pps,
       percentile_cont(0.5) WITHIN GROUP (
         ORDER BY lost::float8 / nullif(payments, 0)) AS lost_share,
       min(lost) AS lost_min, max(lost) AS lost_max,
       count(*) AS runs, bool_and(status = 'ok') AS ok
  FROM throughput WHERE rep > 0
 GROUP BY 1, 2, 3, 4;

SELECT format('### Throughput: payments per second (median of %s runs of %s s), ratio to plpgsql',
              :reps, :duration);
SELECT '';
SELECT 'pgbench -M prepared, -j 2, one payment of 0.01 per transaction (batch: 100 per call,'
       ' counted as payments). enrollment and batch run with enrollment.events off, like the'
       ' other contenders, which send no notification; events is enrollment.apply_payment() with'
       ' enrollment.events on (the default), one NOTIFY per payment.'
       ' plpgsql, enrollment, events and batch send an idempotency key with every'
       ' payment; naive and sql have none. *uniform*: a random one of '
       || to_char(:n_uniform, 'FM999,999,999') || ' enrollments per payment; *hot*: every payment'
       ' to one enrollment. naive loses payments: "lost" is the share of its payments missing from'
       ' amount_paid (median; min-max of the count). A cell marked FAIL had a failed check.';
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
SELECT format('| %s | %s× | %s× |', b.clients,
              round((max(b.pps) FILTER (WHERE b.sync = 'on') /
                     max(e.pps) FILTER (WHERE e.sync = 'on'))::numeric, 1),
              round((max(b.pps) FILTER (WHERE b.sync = 'off') /
                     max(e.pps) FILTER (WHERE e.sync = 'off'))::numeric, 1))
  FROM cell b
  JOIN cell e ON (e.sync, e.scenario, e.clients, e.contender) =
                 (b.sync, b.scenario, b.clients, 'enrollment')
 WHERE b.contender = 'batch' AND b.scenario = 'hot'
 GROUP BY b.clients ORDER BY b.clients;
SELECT '' WHERE :'have_batch' = 't';

SELECT format('### Server-side cost per call (median of %s, %s calls in one statement)',
              :server_reps, to_char(:n_server, 'FM999,999,999'));
SELECT '';
SELECT 'SELECT count(f(...)) FROM generate_series(1, N) on N distinct enrollments, one'
       ' transaction, timed inside the server (no network, no commit per call). floor: one'
       ' UPDATE ... RETURNING + ledger INSERT statement over the same N rows (bench.sql_*'
       ' tables), per row. Keys: a new idempotency key per call.';
SELECT '';
SELECT '| what | µs per call | ÷ floor | ÷ plpgsql (same key use) |';
SELECT '|---|--:|--:|--:|';
WITH m AS (
  SELECT what, percentile_cont(0.5) WITHIN GROUP (ORDER BY us) AS us
    FROM server_side GROUP BY what)
SELECT format('| %s | %s | %s× | %s |',
              CASE m.what
                WHEN 'enrollment' THEN 'enrollment.apply_payment(), no key'
                WHEN 'enrollment_key' THEN 'enrollment.apply_payment(), with key'
                WHEN 'enrollment_sql' THEN 'enrollment.apply_payment(), no key, table_access = sql'
                WHEN 'plpgsql' THEN 'bench.apply_payment() (PL/pgSQL), no key'
                WHEN 'plpgsql_key' THEN 'bench.apply_payment() (PL/pgSQL), with key'
                WHEN 'floor' THEN 'floor: set-based UPDATE + INSERT, per row' END,
              round(m.us::numeric, 2),
              round((m.us / f.us)::numeric, 2),
              CASE WHEN m.what LIKE 'enrollment%'
                   THEN round((m.us / p.us)::numeric, 2) || '×' ELSE '' END)
  FROM m
  JOIN m f ON f.what = 'floor'
  LEFT JOIN m p ON p.what = CASE m.what WHEN 'enrollment_sql' THEN 'plpgsql'
                             ELSE replace(m.what, 'enrollment', 'plpgsql') END
 ORDER BY array_position(ARRAY['enrollment', 'enrollment_key', 'enrollment_sql',
                               'plpgsql', 'plpgsql_key', 'floor'], m.what);
SELECT '';
