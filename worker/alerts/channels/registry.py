"""Every kind of channel, by kind: the one list the config loader and `worker.alerts.delivery`
read. Adding a kind of channel is adding its module (KIND, Options, send, PLUGIN) and its line
here."""

from __future__ import annotations

from worker.alerts.channels import ChannelPlugin, alertmanager, email, teams, webhook
from worker.domain.model import ChannelKind

CHANNELS: dict[ChannelKind, ChannelPlugin] = {
    plugin.kind: plugin
    for plugin in (
        email.PLUGIN,
        webhook.PLUGIN,
        teams.PLUGIN,
        alertmanager.PLUGIN,
    )
}
