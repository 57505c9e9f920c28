-- bench/report_cell.sql: one throughput table of report.sql, for the psql
-- variables scenario and sync.
SELECT format('#### %s, synchronous_commit = %s', :'scenario', :'sync');
SELECT '';
SELECT '| clients | ' || string_agg(contender, ' | ' ORDER BY o) || ' | naive: lost |'
       || E'\n|--:|' || repeat('--:|', count(*)::int) || '--:|'
  FROM unnest(ARRAY['naive', 'plpgsql', 'sql', 'enrollment', 'off', 'notify', 'batch'])
       WITH ORDINALITY AS c(contender, o)
 WHERE contender <> 'batch' OR (:'scenario' = 'hot' AND :'have_batch' = 't');
SELECT format('| %s | %s | %s |', c.clients,
              string_agg(format('%s (%s×)%s', round(c.pps), round(v.ratio::numeric, 2),
                                CASE WHEN c.ok THEN '' ELSE ' **FAIL**' END),
                         ' | ' ORDER BY array_position(ARRAY['naive', 'plpgsql', 'sql',
                                                             'enrollment', 'off',
                                                             'notify', 'batch'], c.contender)),
              max(format('%s%% (%s-%s)', round((n.lost_share * 100)::numeric, 1),
                         n.lost_min, n.lost_max)))
  FROM cell c
  JOIN versus v ON (v.sync, v.scenario, v.clients, v.contender, v.reference) =
                   (c.sync, c.scenario, c.clients, c.contender, 'plpgsql')
  JOIN cell n ON (n.sync, n.scenario, n.clients, n.contender) = (c.sync, c.scenario, c.clients, 'naive')
 WHERE c.scenario = :'scenario' AND c.sync = :'sync'
 GROUP BY c.clients ORDER BY c.clients;
SELECT '';
