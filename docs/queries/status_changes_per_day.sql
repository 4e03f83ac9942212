-- Status changes per day: how many tickets moved into each status, day by day (UTC), from the field history.
-- A ticket's first status (when it was created) has no previous value and is not a change.
-- DuckDB gives dates in the session's time zone: SET TimeZone = 'UTC' first for UTC days (SQLite's are UTC).
SELECT
    date(updated_at) AS day,
    value AS status,
    COUNT(*) AS changes
FROM ticket_field_history
WHERE field = 'status' AND previous_value IS NOT NULL
GROUP BY 1, 2
ORDER BY 1, 2;
