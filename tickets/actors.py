"""Who did something: a signed-in person, an integration key (maybe acting for a person), or the system."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from tickets.models import ApiKey


@dataclass(frozen=True)
class ActorRef:
    user: AbstractBaseUser | None = None
    api_key: ApiKey | None = None
    system_label: str = ""

    @classmethod
    def system(cls, label: str = "System") -> ActorRef:
        return cls(system_label=label)

    @classmethod
    def from_request(cls, request: Any) -> ActorRef:
        from tickets.models import ApiKey

        auth = getattr(request, "auth", None)
        if isinstance(auth, ApiKey):
            return cls(api_key=auth, user=auth.user)
        user = getattr(request, "user", None)
        return cls(user=user if user is not None and user.is_authenticated else None)

    @property
    def kind(self) -> str:
        if self.api_key is not None:
            return "integration"
        return "user" if self.user is not None else "system"

    @property
    def label(self) -> str:
        if self.api_key is not None:
            person = f" for {display_name(self.user)}" if self.user is not None else ""
            return f"Integration “{self.api_key.name}”{person}"
        if self.user is not None:
            return display_name(self.user)
        return self.system_label or "System"


def display_name(user: Any) -> str:
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()
