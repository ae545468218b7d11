"""onsite_visitor(): everything the decide endpoint needs to know about the visitor, in one round trip.

Who is asking (the profile of the signed user id, else of the browser's anonymous id, and whether it
is known: a user id, email or phone), what they did with the page's candidate messages (for the
caps), whether a pop-up was shown to them on another page within the site-wide gap, which of the
candidates' audiences they are in and their computed tags. See journeys/onsite/selectors.py
(`visitor_facts`), which calls it on every page view of the shop.

Why a function rather than the same query sent as text: planning this query costs several times
its execution (a few ms against a few tenths), and PL/pgSQL keeps the plan for the session, which a
query sent with client-side parameters (Django's default, kept for connection poolers) cannot.
The kinds written in it are those of tracking.models.IdentityKind and onsite.models.InteractionKind.
"""

from django.db import migrations

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
    p_popup_kinds text[]
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
    seen_last_view timestamptz[],
    seen_submitted boolean[],
    seen_clicked boolean[],
    seen_held boolean[],
    seen_in_session boolean[],
    recent_popup boolean,
    audience_ids bigint[],
    computed_tags text[]
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
           h.ids, h.views, h.last_view, h.submitted, h.clicked, h.held, h.in_session,
           EXISTS (
               SELECT 1 FROM seen s JOIN onsite_message m ON m.id = s.message_id
               WHERE s.kind = 'view' AND m.kind = ANY (p_popup_kinds)
                 AND s.at > p_gap_since AND s.page_view_id <> p_page_view_id
           ),
           ARRAY(
               SELECT a.audience_id FROM audiences_audiencemembership a
               WHERE a.profile_id = who.id AND a.audience_id = ANY (p_audience_ids) AND a.exited_at IS NULL
           ),
           ARRAY(SELECT t.name::text FROM audiences_computedtag t WHERE p_with_tags AND t.profile_id = who.id)
    FROM (SELECT 1) AS one
    LEFT JOIN who ON true
    CROSS JOIN (
        SELECT array_agg(c.message_id) AS ids, array_agg(c.views) AS views,
               array_agg(c.last_view) AS last_view, array_agg(c.submitted) AS submitted,
               array_agg(c.clicked) AS clicked, array_agg(c.held) AS held,
               array_agg(c.in_session) AS in_session
        FROM caps c
    ) AS h;
END
$$;
"""

DROP = "DROP FUNCTION IF EXISTS onsite_visitor(text, text, bigint[], bigint[], boolean, text, text, timestamptz, timestamptz, text[])"


class Migration(migrations.Migration):
    dependencies = [
        ("onsite", "0002_submission_checked_and_set_aside"),
        ("audiences", "0002_iso_timestamp_function"),
        ("tracking", "0008_events_unreadable_times_repaired"),
    ]
    operations = [migrations.RunSQL(CREATE, DROP)]
