SELECT outcome, count(*) AS n FROM page_faults GROUP BY outcome ORDER BY outcome
