"""Who may do what: admins from ADMIN_IDS, members granted with /allow, everyone else refused."""

from __future__ import annotations

from bot.models import Role
from bot.store import Store


class AccessService:
    """Decides a person's role; identity always comes from the Telegram event."""

    def __init__(self, store: Store, admin_ids: frozenset[int]) -> None:
        self._store = store
        self._admin_ids = admin_ids

    async def role(self, user_id: int | None) -> Role:
        """Return the role of a sender (None, e.g. an anonymous group admin, is a stranger)."""
        if user_id is None:
            return Role.STRANGER
        if user_id in self._admin_ids:
            return Role.ADMIN
        return await self._store.users.role(user_id) or Role.STRANGER

    def is_configured_admin(self, user_id: int) -> bool:
        """True for the admins named in ADMIN_IDS (they cannot be denied from a chat)."""
        return user_id in self._admin_ids

    async def allow(self, user_id: int, by: int) -> bool:
        """Grant subscriber rights; return False if the user already had them."""
        if user_id in self._admin_ids:
            return False
        return await self._store.users.grant(user_id, Role.MEMBER, by)

    async def deny(self, user_id: int) -> bool:
        """Withdraw granted rights; return whether the user had any."""
        return await self._store.users.revoke(user_id)
