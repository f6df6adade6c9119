SELECT kind, decision, count(*) AS n FROM faults GROUP BY kind, decision ORDER BY kind, decision
