-- Backlog by group and status: the unsolved tickets (new, open, pending, on hold) of each group.
-- Tables: tickets, groups. Deleted tickets have status 'deleted' and so are not counted.
SELECT
    COALESCE(g.name, '(no group)') AS group_name,
    t.status,
    COUNT(*) AS tickets
FROM tickets AS t
LEFT JOIN groups AS g ON g.id = t.group_id
WHERE t.status IN ('new', 'open', 'pending', 'hold')
GROUP BY 1, 2
ORDER BY 1, 2;
