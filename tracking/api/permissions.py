"""Model permissions, reads included, so a role's Django permissions decide what its API token may do."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission, DjangoModelPermissions

from tracking.roles import can_view_personal_data


class ModelPermissions(DjangoModelPermissions):
    """DjangoModelPermissions that also requires `view_<model>` for reads.

    A view may name the permissions of its extra actions in `action_permissions`
    (e.g. {"consent": ["tracking.change_consent"]}); those replace the model's for that action.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request: Any, view: Any) -> bool:
        required = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if required is None:
            return super().has_permission(request, view)
        user = request.user
        return bool(user and user.is_authenticated and user.has_perms(required))


class PersonalData(BasePermission):
    """People's data (profiles, their events, exports) also needs tracking.view_personal_data."""

    message = "Reading people's data needs the personal data permission (tracking.view_personal_data)."

    def has_permission(self, request: Any, view: Any) -> bool:
        return can_view_personal_data(request.user)
