"""Carrying out the actions of stage visits for one batch, and announcing what happened.

Every side effect is keyed by (run, visit, action index) so a batch that is retried after a crash
creates nothing twice: messages through channels' idempotency key, partner calls through theirs,
queued on-site messages through their unique key. Holdout runs take every step but get no message, no
on-site message and no webhook call (state changes still apply), so their conversions measure what the
journey's messages add.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from journeys import partner_events
from journeys.engine.core import RunState, Visit
from tracking.services.profiles import profiles_edit

if TYPE_CHECKING:
    from channels.services import EnqueueRequest
    from journeys.engine.runner import RunRow
    from journeys.onsite.queue import QueueRequest


def send_idempotency_key(*, run_id: int, visit: int, index: int) -> str:
    return f"journey-run:{run_id}:visit:{visit}:action:{index}"


class ActionBatch:
    def __init__(self, *, now: datetime) -> None:
        self.now = now
        self._profile_edits: dict[int, list[tuple[str, Any]]] = {}
        self._announcements: list[tuple[str, dict, str]] = []
        # Sends wait for flush(): one channels call for the whole batch instead of one per message.
        self._sends: list[tuple[EnqueueRequest, dict]] = []
        self._onsite: list[tuple[QueueRequest, dict]] = []
        self._partner_types: frozenset[str] | None = None

    def _announced(self, event_type: str) -> bool:
        """Whether any partner endpoint takes this event type, so its payload is worth building.

        Asks channels' per-process subscription cache once per batch (changes made in this process
        show at once, others' within about a second); publish_many still reads the endpoints itself.
        """
        if self._partner_types is None:
            try:
                from channels.partner.subscribers import subscribed_event_types
            except ImportError:
                self._partner_types = frozenset()
            else:
                self._partner_types = subscribed_event_types()
        return "*" in self._partner_types or event_type in self._partner_types

    def perform(self, *, run: RunRow, visit: Visit) -> list[dict]:
        outcome: list[dict] = []
        for index, action in enumerate(visit.actions):
            kind, body = next(iter(action.items()))
            if kind == "send":
                outcome.append(self._send(run, visit, index, body))
            elif kind == "webhook":
                outcome.append(self._webhook(run, visit, index, body))
            elif kind == "onsite":
                outcome.append(self._onsite_queue(run, visit, index, body))
            elif kind == "tag":
                op, name = next(iter(body.items()))
                self._profile_edits.setdefault(run.profile_id, []).append((f"tag_{op}", name))
                outcome.append({"tag": {op: name}})
            elif kind == "set_trait":
                for path, value in body.items():
                    self._profile_edits.setdefault(run.profile_id, []).append(("trait_set", (path, value)))
                outcome.append({"set_trait": sorted(body)})
        return outcome

    def _send(self, run: RunRow, visit: Visit, index: int, body: dict) -> dict:
        """The send's outcome, completed with the message id and status when the batch flushes."""
        if run.holdout:
            return {"send": "holdout", "template": body["template"]}
        from channels.services import EnqueueRequest

        outcome = {"send": "", "message_id": None, "template": body["template"]}
        request = EnqueueRequest(
            profile_id=run.profile_id,
            channel=body["channel"],
            template_slug=body["template"],
            topic=body.get("topic", "marketing"),
            data={
                **body.get("data", {}),
                "journey": {"slug": run.journey.slug, "name": run.journey.name, "stage": visit.stage_key},
            },
            campaign_kind="journey",
            campaign_id=run.journey_id,
            stage_key=visit.stage_key,
            variant=visit.variant,
            idempotency_key=send_idempotency_key(run_id=run.pk, visit=visit.seq, index=index),
            run_id=run.pk,
        )
        self._sends.append((request, outcome))
        return outcome

    def _onsite_queue(self, run: RunRow, visit: Visit, index: int, body: dict) -> dict:
        """Show on-site message M on the profile's next visit (journeys/onsite/queue.py), queued at the
        visit's moment (so `run_due --now` queues at the time it simulates) and written by flush()."""
        if run.holdout:
            return {"onsite": "holdout", "message": body["message"]}
        from journeys.onsite.queue import QueueRequest, queue_days_default

        days = body.get("expires_days") or queue_days_default()
        outcome = {"onsite": "", "message": body["message"], "expires_days": days}
        request = QueueRequest(
            message_id=body["message"],
            profile_id=run.profile_id,
            key=send_idempotency_key(run_id=run.pk, visit=visit.seq, index=index),
            queued_at=visit.at,
            expires_days=days,
            journey_id=run.journey_id,
            run_id=run.pk,
            stage_key=visit.stage_key,
        )
        self._onsite.append((request, outcome))
        return outcome

    def _webhook(self, run: RunRow, visit: Visit, index: int, body: dict) -> dict:
        if run.holdout:
            return {"webhook": "holdout", "endpoint": body["endpoint"]}
        from channels.partner.services import endpoint_call

        payload = {
            **body.get("payload", {}),
            "journey": run.journey.slug,
            "run_id": run.pk,
            "profile_id": run.profile_id,
            "stage": visit.stage_key,
        }
        delivery_id = endpoint_call(
            endpoint_id=body["endpoint"],
            payload=payload,
            idempotency_key=send_idempotency_key(run_id=run.pk, visit=visit.seq, index=index),
        )
        return {"webhook": "queued", "delivery_id": delivery_id, "endpoint": body["endpoint"]}

    def announce_stage(self, *, run: RunRow, visit: Visit, entered: bool) -> None:
        if not self._announced("journey.entered" if entered else "journey.stage_changed"):
            return
        base = {
            "journey": run.journey.slug,
            "journey_id": run.journey_id,
            "run_id": run.pk,
            "profile_id": run.profile_id,
            "variant": visit.variant,
            "holdout": run.holdout,
        }
        if entered:
            self._announcements.append(
                (
                    "journey.entered",
                    {**base, "stage": visit.stage_key, "at": visit.at.isoformat()},
                    f"{run.pk}:entered",
                )
            )
        else:
            payload = {
                **base,
                "from_stage": visit.from_stage,
                "stage": visit.stage_key,
                "reason": visit.reason,
                "at": visit.at.isoformat(),
            }
            self._announcements.append(("journey.stage_changed", payload, f"{run.pk}:visit:{visit.seq}"))

    def announce_conversion(self, *, run: RunRow, event_name: str, at: datetime) -> None:
        if not self._announced("journey.converted"):
            return
        payload = {
            "journey": run.journey.slug,
            "journey_id": run.journey_id,
            "run_id": run.pk,
            "profile_id": run.profile_id,
            "variant": run.variant,
            "holdout": run.holdout,
            "event": event_name,
            "at": at.isoformat(),
        }
        self._announcements.append(("journey.converted", payload, f"{run.pk}:converted"))

    def announce_end(self, *, run: RunRow, state: RunState) -> None:
        if not self._announced("journey.exited"):
            return
        payload = {
            "journey": run.journey.slug,
            "journey_id": run.journey_id,
            "run_id": run.pk,
            "profile_id": run.profile_id,
            "status": state.status,
            "reason": state.end_reason,
            "stage": state.stage_key,
            "at": (state.ended_at or self.now).isoformat(),
        }
        self._announcements.append(("journey.exited", payload, f"{run.pk}:ended"))

    def flush(self) -> None:
        """Enqueue the batch's messages (one call), write profile edits (one save per profile) and the
        partner events, inside the transaction. Call it before writing the steps: it fills in the
        message id and status of the send outcomes perform() returned."""
        if self._sends:
            from channels.services import messages_enqueue_many

            done = messages_enqueue_many([request for request, _ in self._sends])
            for (_, outcome), message in zip(self._sends, done, strict=True):
                outcome["send"], outcome["message_id"] = message.status, message.message_id
            self._sends = []
        if self._onsite:
            from journeys.onsite.queue import queued_messages_add

            missing = queued_messages_add(requests=[request for request, _ in self._onsite])
            for request, outcome in self._onsite:
                outcome["onsite"] = "no such message" if request.message_id in missing else "queued"
            self._onsite = []
        if self._profile_edits:
            # Through tracking, which owns the row lock, the trait-time format (stamped at the batch's
            # `now`, so `run_due --now` edits at the time it simulates) and the profile_changed signal.
            profiles_edit(edits=self._profile_edits, at=self.now)
            self._profile_edits = {}
        partner_events.publish_many(self._announcements)
