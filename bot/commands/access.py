"""/start, /help, /allow, /deny: who may use chanwatch, and what they may do."""

from __future__ import annotations

from bot.commands.args import user_id as parse_user_id
from bot.commands.context import CommandContext, Services
from bot.commands.replies import USAGE_ALLOW, USAGE_DENY
from bot.models import Role
from bot.render import esc

RULES_HELP = ("\nRules: words match in any form (Белгород finds “над Белгородом”),"
              ' "quoted phrase" needs the words in a row, =word this form only, word* a'
              " prefix, OR, NOT or -word, (parentheses), NEAR/5(a b), channel:@name,"
              " lang:ru|uk. Example: дрон* AND (Шебекино OR Shebekino) NOT учения")


async def cmd_start(ctx: CommandContext, svc: Services) -> str:
    """Greet, and resume a chat whose alerts had stopped."""
    revived = await svc.chats.revive(ctx.chat_id)
    lines = ["👋 <b>chanwatch</b> watches Telegram channels and alerts you when a post matches"
             " your rules."]
    if revived:
        lines.append("Alerts to this chat are active again.")
    lines.append(f"You are {'an admin' if ctx.role is Role.ADMIN else 'a subscriber'}."
                 " /help lists what you can do.")
    return "\n".join(lines)


async def cmd_help(ctx: CommandContext, svc: Services) -> str:
    """List the commands the caller may use."""
    from bot.commands import COMMANDS  # the table imports this module, so not at the top

    lines = ["<b>Commands</b>"]
    for command in COMMANDS:
        if command.access is Role.ADMIN and ctx.role is not Role.ADMIN:
            continue
        note = " (admin, private chat)" if command.access is Role.ADMIN else ""
        lines.append(f"{esc(command.usage)} — {esc(command.description)}{note}")
    lines.append(RULES_HELP)
    return "\n".join(lines)


async def cmd_allow(ctx: CommandContext, svc: Services) -> str:
    """Give a person subscriber rights."""
    user_id = parse_user_id(ctx.args)
    if user_id is None:
        return USAGE_ALLOW
    if svc.access.is_configured_admin(user_id):
        return f"{user_id} is an admin already (ADMIN_IDS)."
    if not await svc.access.allow(user_id, ctx.sender_id):
        return f"{user_id} may already use chanwatch."
    await svc.chats.activate(user_id)  # a private chat paused by /deny alerts again
    return f"✅ {user_id} may now use chanwatch."


async def cmd_deny(ctx: CommandContext, svc: Services) -> str:
    """Take subscriber rights away."""
    user_id = parse_user_id(ctx.args)
    if user_id is None:
        return USAGE_DENY
    if svc.access.is_configured_admin(user_id):
        return f"{user_id} is named in ADMIN_IDS; change that setting to remove them."
    if not await svc.access.deny(user_id):
        return f"{user_id} had no rights to withdraw."
    # their private chat stops receiving alerts at once (its rules stay, paused)
    await svc.chats.pause(user_id)
    return f"{user_id} may no longer use chanwatch; alerts to their private chat are paused."
