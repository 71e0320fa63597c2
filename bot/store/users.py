"""People and their roles (granted with /allow)."""

from __future__ import annotations

import aiosqlite

from bot.clock import to_iso
from bot.models import (
    Role,
)
from bot.store.base import Repository


class UserRepository(Repository):
    """Roles granted to people; admins come from the settings, not from here."""

    async def role(self, user_id: int) -> Role | None:
        """Return the role granted with /allow, if any."""
        row = await self._db.fetchone("SELECT role FROM users WHERE id = ?", (user_id,))
        return Role(row["role"]) if row else None

    async def grant(self, user_id: int, role: Role, granted_by: int) -> bool:
        """Grant a role; return False if the user already had exactly that role."""
        now = to_iso(self._clock.now())
        return await self._write(
            "INSERT INTO users (id, role, granted_by, granted_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET role = excluded.role,"
            " granted_by = excluded.granted_by, granted_at = excluded.granted_at"
            " WHERE users.role != excluded.role",
            (user_id, role.value, granted_by, now),
        ) > 0

    async def revoke(self, user_id: int) -> bool:
        """Remove a granted role; return whether there was one."""

        async def work(conn: aiosqlite.Connection) -> bool:
            cur = await conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
            return cur.rowcount > 0

        return await self._db.transaction(work)
