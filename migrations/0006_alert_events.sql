-- Alerts rendered once, when they are sent: ingest stores what an alert says as data — an
-- AlertEvent (bot/events.py) as JSON — and bot/render.py turns it into Telegram HTML, its
-- buttons, its quiet-hours fold line and the webhook's JSON event at send time, with what is
-- known then (queue delay, a deletion meanwhile, "also in", the chat's time zone, the
-- translation). For rows of kind 'alert' and 'webhook' queued from now on, payload is '' and
-- summary and buttons are NULL; rows queued before (event NULL) keep their HTML or JSON in
-- payload and are sent as they are.
ALTER TABLE outbox ADD COLUMN event TEXT;

-- "also in" entries (outbox.also) are now JSON objects {"name", "url"}; strings in rows
-- written before are HTML labels and are shown as they are.
