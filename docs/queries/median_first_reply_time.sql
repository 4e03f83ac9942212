-- Median first-reply time, in calendar minutes, from the ticket metric events.
-- When a ticket's first reply fulfils its reply_time metric (instance 1), Zendesk records an update_status
-- event whose status.calendar is the minutes it took (status.business: in business hours). The median is the
-- middle value, or the mean of the two middle values.
WITH first_reply AS (
    SELECT CAST(json_extract(raw_json, '$.status.calendar') AS INTEGER) AS minutes
    FROM ticket_metric_events
    WHERE metric = 'reply_time' AND type = 'update_status' AND instance_id = 1
),
ranked AS (
    SELECT minutes, ROW_NUMBER() OVER (ORDER BY minutes) AS n, COUNT(*) OVER () AS total
    FROM first_reply
    WHERE minutes IS NOT NULL
)
SELECT AVG(minutes) AS median_first_reply_minutes, MAX(total) AS tickets
FROM ranked
WHERE 2 * n IN (total, total + 1, total + 2);
