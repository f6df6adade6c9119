SELECT 42 AS ea, count(*) AS faults, max(gfn) AS gfn, printf('0x%x', min(ea)) AS ea_text FROM faults
