-- bench/report.sql: the markdown tables of throughput and server-side cost,
-- from the tables throughput and server_side that run.sh loads.  psql
-- variables: duration, reps, n_uniform, n_server, server_reps, have_batch.
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
       ' counted as payments). enrollment and batch run with enrollment.events off, like the'
       ' other contenders, which send no notification; events is enrollment.apply_payment() with'
       ' enrollment.events on (the default), one NOTIFY per payment.'
       ' plpgsql, enrollment, events and batch send an idempotency key with every'
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

SELECT format('### Server-side cost per call (median of %s, %s calls in one statement)',
              :server_reps, to_char(:n_server, 'FM999,999,999'));
SELECT '';
SELECT 'SELECT count(f(...)) FROM generate_series(1, N) on N distinct enrollments, one'
       ' transaction, timed inside the server (no network, no commit per call). floor: one'
       ' UPDATE ... RETURNING + ledger INSERT statement over the same N rows (bench.sql_*'
       ' tables), per row, without and with an idempotency key per row. Keys: a new'
       ' idempotency key per call. A ratio is the median of the ratios within each'
       ' repetition (the variants alternate), so it may differ from the ratio of the'
       ' medians.';
SELECT '';
SELECT '| what | µs per call | ÷ floor, same key use | ÷ floor without key | ÷ plpgsql, same key use |';
SELECT '|---|--:|--:|--:|--:|';
WITH
-- what each variant is compared with: the floor and the contender that
-- use a key as it does
peer AS (
  SELECT what,
         CASE WHEN what LIKE '%key' THEN 'floor_key' ELSE 'floor' END AS floor,
         CASE WHEN what = 'enrollment_sql' THEN 'plpgsql'
              WHEN what LIKE 'enrollment%' THEN replace(what, 'enrollment', 'plpgsql')
         END AS plpgsql
    FROM (SELECT DISTINCT what FROM server_side) w),
ratio AS (
  SELECT p.what, s.rep, s.us,
         s.us / f.us AS to_floor, s.us / nk.us AS to_floor_no_key, s.us / c.us AS to_plpgsql
    FROM peer p
    JOIN server_side s USING (what)
    JOIN server_side f ON (f.rep, f.what) = (s.rep, p.floor)
    JOIN server_side nk ON (nk.rep, nk.what) = (s.rep, 'floor')
    LEFT JOIN server_side c ON (c.rep, c.what) = (s.rep, p.plpgsql))
SELECT format('| %s | %s | %s× | %s× | %s |',
              CASE what
                WHEN 'enrollment' THEN 'enrollment.apply_payment(), no key'
                WHEN 'enrollment_key' THEN 'enrollment.apply_payment(), with key'
                WHEN 'enrollment_sql' THEN 'enrollment.apply_payment(), no key, table_access = sql'
                WHEN 'plpgsql' THEN 'bench.apply_payment() (PL/pgSQL), no key'
                WHEN 'plpgsql_key' THEN 'bench.apply_payment() (PL/pgSQL), with key'
                WHEN 'floor' THEN 'floor: set-based UPDATE + INSERT, per row, no key'
                WHEN 'floor_key' THEN 'floor: set-based UPDATE + INSERT, per row, with key' END,
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us)::numeric, 2),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY to_floor)::numeric, 2),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY to_floor_no_key)::numeric, 2),
              coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY to_plpgsql)::numeric, 2) || '×', ''))
  FROM ratio
 GROUP BY what
 ORDER BY array_position(ARRAY['enrollment', 'enrollment_key', 'enrollment_sql',
                               'plpgsql', 'plpgsql_key', 'floor', 'floor_key'], what);
SELECT '';
