SELECT name, ret_name, path, count(*) AS n FROM hcalls GROUP BY name, ret_name, path ORDER BY name
