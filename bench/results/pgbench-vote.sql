\set voter random(1, 20000)
\set day random(0, 36500)
\set slot random(0, 9)
\set option random(1, 3)
WITH open_poll AS (
    SELECT id FROM polls_poll
    WHERE id = 1 AND state = 'scheduled' AND opens_at <= now() AND closes_at > now()
      AND (closed_early_at IS NULL OR closed_early_at > now())
    FOR KEY SHARE
), new_ballot AS (
    INSERT INTO polls_ballot (poll_id, voter_id, period, slot, day, cast_at, receipt_hash, status,
        status_reason, client_ip, client_network, client_fingerprint, tallied, checkpoint)
    SELECT 1, :voter::bigint, date '2026-01-01' + :day::integer, :slot::smallint,
        date '2026-01-01' + :day::integer, now(),
        md5(random()::text || clock_timestamp()::text), 'counted', '', '203.0.113.7'::inet,
        '203.0.113.0/24', md5(:voter::bigint::text), false, NULL
    FROM open_poll RETURNING id
)
INSERT INTO polls_ballotchoice (poll_id, ballot_id, option_id, rank)
SELECT 1, new_ballot.id, 1 + :option - 1::integer, 1 FROM new_ballot;
