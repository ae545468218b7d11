"""onsite_visitor() also returns each candidate's first view (the stop-after-a-conversion cap) and the
candidates journeys queued for the profile (journeys/onsite/queue.py), so decide stays one round trip.
The returned columns change, so the function is dropped and created again."""

import importlib

from django.db import migrations

PREVIOUS = importlib.import_module("journeys.onsite.migrations.0003_onsite_visitor_function")

CREATE = r"""
CREATE OR REPLACE FUNCTION onsite_visitor(
    p_user_id text,
    p_anonymous_id text,
    p_message_ids bigint[],
    p_audience_ids bigint[],
    p_with_tags boolean,
    p_session_id text,
    p_page_view_id text,
    p_since timestamptz,
    p_gap_since timestamptz,
    p_popup_kinds text[],
    p_now timestamptz
) RETURNS TABLE (
    profile_id bigint,
    traits jsonb,
    tags jsonb,
    locale text,
    timezone text,
    country text,
    known boolean,
    seen_message_ids bigint[],
    seen_views bigint[],
    seen_first_view timestamptz[],
    seen_last_view timestamptz[],
    seen_submitted boolean[],
    seen_clicked boolean[],
    seen_held boolean[],
    seen_in_session boolean[],
    recent_popup boolean,
    audience_ids bigint[],
    computed_tags text[],
    queued_message_ids bigint[],
    queued_at timestamptz[]
)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH who AS (
        -- The signed user id's profile first, else the anonymous id's.
        SELECT p.id, p.traits, p.tags, p.locale, p.timezone, p.country
        FROM tracking_identity i
        JOIN tracking_profile p ON p.id = i.profile_id
        WHERE (i.kind = 'user_id' AND i.value = p_user_id)
           OR (i.kind = 'anonymous_id' AND i.value = p_anonymous_id)
        ORDER BY (i.kind = 'user_id') DESC, i.id
        LIMIT 1
    ), seen AS (
        -- By profile when known (survives cleared storage), and by browser.
        SELECT x.message_id, x.kind, x.at, x.session_id, x.page_view_id
        FROM onsite_interaction x
        WHERE (x.anonymous_id = p_anonymous_id OR x.profile_id = (SELECT who.id FROM who))
          AND x.at >= p_since
    ), caps AS (
        SELECT s.message_id,
               count(*) FILTER (WHERE s.kind = 'view') AS views,
               min(s.at) FILTER (WHERE s.kind = 'view') AS first_view,
               max(s.at) FILTER (WHERE s.kind = 'view') AS last_view,
               coalesce(bool_or(s.kind = 'submit'), false) AS submitted,
               coalesce(bool_or(s.kind = 'click'), false) AS clicked,
               coalesce(bool_or(s.kind = 'holdout'), false) AS held,
               coalesce(bool_or(s.kind = 'view' AND s.session_id = p_session_id), false) AS in_session
        FROM seen s
        WHERE s.message_id = ANY (p_message_ids)
        GROUP BY s.message_id
    )
    SELECT who.id, who.traits, who.tags, who.locale::text, who.timezone::text, who.country::text,
           who.id IS NOT NULL AND EXISTS (
               SELECT 1 FROM tracking_identity k
               WHERE k.profile_id = who.id AND k.kind IN ('user_id', 'email', 'phone')
           ),
           h.ids, h.views, h.first_view, h.last_view, h.submitted, h.clicked, h.held, h.in_session,
           EXISTS (
               SELECT 1 FROM seen s JOIN onsite_message m ON m.id = s.message_id
               WHERE s.kind = 'view' AND m.kind = ANY (p_popup_kinds)
                 AND s.at > p_gap_since AND s.page_view_id <> p_page_view_id
           ),
           ARRAY(
               SELECT a.audience_id FROM audiences_audiencemembership a
               WHERE a.profile_id = who.id AND a.audience_id = ANY (p_audience_ids) AND a.exited_at IS NULL
           ),
           ARRAY(SELECT t.name::text FROM audiences_computedtag t WHERE p_with_tags AND t.profile_id = who.id),
           q.ids, q.queued_at
    FROM (SELECT 1) AS one
    LEFT JOIN who ON true
    CROSS JOIN (
        SELECT array_agg(c.message_id) AS ids, array_agg(c.views) AS views,
               array_agg(c.first_view) AS first_view,
               array_agg(c.last_view) AS last_view, array_agg(c.submitted) AS submitted,
               array_agg(c.clicked) AS clicked, array_agg(c.held) AS held,
               array_agg(c.in_session) AS in_session
        FROM caps c
    ) AS h
    CROSS JOIN (
        -- Journeys' "show on the next visit" rows for the profile, unexpired (the profile index).
        SELECT array_agg(g.message_id) AS ids, array_agg(g.queued_at) AS queued_at
        FROM (
            SELECT qm.message_id, max(qm.queued_at) AS queued_at
            FROM onsite_queuedmessage qm
            WHERE qm.profile_id = (SELECT who.id FROM who)
              AND qm.message_id = ANY (p_message_ids) AND qm.expires_at > p_now
            GROUP BY qm.message_id
        ) g
    ) AS q;
END
$$;
"""


DROP = (
    "DROP FUNCTION IF EXISTS onsite_visitor(text, text, bigint[], bigint[], boolean, text, text, "
    "timestamptz, timestamptz, text[], timestamptz)"
)


class Migration(migrations.Migration):
    dependencies = [("onsite", "0004_merge_journey_queue_and_visitor_function")]
    operations = [
        migrations.RunSQL(
            [PREVIOUS.DROP, CREATE],
            [DROP, PREVIOUS.CREATE],
        )
    ]
