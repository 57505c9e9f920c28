-- bench/report_server.sql: the markdown table of the server-side cost per
-- call, from the table server_side that run.sh loads.  psql variables:
-- n_server, server_reps.
\set ON_ERROR_STOP on

SELECT format('Median of %s repetitions, %s calls in one statement: SELECT count(f(...))'
              ' FROM generate_series(1, N) on N distinct enrollments, one'
              ' transaction, timed inside the server (no network, no commit per call).'
              ' pay_remaining_balance() pays the whole amount due of N enrollments made'
              ' for it before each repetition (and copied to the bench tables). floor: one',
              :server_reps, to_char(:n_server, 'FM999,999,999'))
       ||
       ' UPDATE ... RETURNING + ledger INSERT statement over the same N rows (bench.sql_*'
       ' tables), per row, without and with an idempotency key per row. Keys: a new'
       ' idempotency key per call. A ratio is the median of the ratios within each'
       ' repetition (the variants alternate), so it may differ from the ratio of the'
       ' medians. enrollment.events is off but where it says wal (a logical decoding'
       ' message per call, wal_level = logical, no slot reading meanwhile) or notify'
       ' (a NOTIFY per call, no listener).';
SELECT '';
SELECT '| what | µs per call | ÷ floor, same key use | ÷ floor without key | ÷ plpgsql, same key use | ÷ events off |';
SELECT '|---|--:|--:|--:|--:|--:|';
WITH
-- what each variant is compared with: the floor and the contender that
-- use a key as it does
peer AS (
  SELECT what,
         CASE WHEN what LIKE '%key' THEN 'floor_key' ELSE 'floor' END AS floor,
         CASE WHEN what IN ('enrollment_sql', 'enrollment_wal', 'enrollment_notify') THEN 'plpgsql'
              WHEN what LIKE 'enrollment%' THEN replace(what, 'enrollment', 'plpgsql')
         END AS plpgsql,
         CASE WHEN what IN ('enrollment_wal', 'enrollment_notify') THEN 'enrollment' END AS off
    FROM (SELECT DISTINCT what FROM server_side) w),
ratio AS (
  SELECT p.what, s.rep, s.us,
         s.us / f.us AS to_floor, s.us / nk.us AS to_floor_no_key, s.us / c.us AS to_plpgsql,
         s.us / o.us AS to_off
    FROM peer p
    JOIN server_side s USING (what)
    JOIN server_side f ON (f.rep, f.what) = (s.rep, p.floor)
    JOIN server_side nk ON (nk.rep, nk.what) = (s.rep, 'floor')
    LEFT JOIN server_side c ON (c.rep, c.what) = (s.rep, p.plpgsql)
    LEFT JOIN server_side o ON (o.rep, o.what) = (s.rep, p.off))
SELECT format('| %s | %s | %s× | %s× | %s | %s |',
              CASE what
                WHEN 'enrollment' THEN 'enrollment.apply_payment(), no key'
                WHEN 'enrollment_key' THEN 'enrollment.apply_payment(), with key'
                WHEN 'enrollment_sql' THEN 'enrollment.apply_payment(), no key, table_access = sql'
                WHEN 'enrollment_wal' THEN 'enrollment.apply_payment(), no key, events = wal'
                WHEN 'enrollment_notify' THEN 'enrollment.apply_payment(), no key, events = notify'
                WHEN 'enrollment_remaining' THEN 'enrollment.pay_remaining_balance(), no key'
                WHEN 'plpgsql' THEN 'bench.apply_payment() (PL/pgSQL), no key'
                WHEN 'plpgsql_key' THEN 'bench.apply_payment() (PL/pgSQL), with key'
                WHEN 'floor' THEN 'floor: set-based UPDATE + INSERT, per row, no key'
                WHEN 'floor_key' THEN 'floor: set-based UPDATE + INSERT, per row, with key' END,
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us)::numeric, 2),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY to_floor)::numeric, 2),
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY to_floor_no_key)::numeric, 2),
              coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY to_plpgsql)::numeric, 2) || '×', ''),
              coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY to_off)::numeric, 2) || '×', ''))
  FROM ratio
 GROUP BY what
 ORDER BY array_position(ARRAY['enrollment', 'enrollment_key', 'enrollment_remaining', 'enrollment_sql',
                               'enrollment_wal', 'enrollment_notify', 'plpgsql', 'plpgsql_key', 'floor', 'floor_key'], what);
SELECT '';
