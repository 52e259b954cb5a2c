from portal.plugins import PluginMeta, PortalPluginConfig


class OutdatedConfig(PortalPluginConfig):
    name = "concord_outdated"
    label = "outdated"
    meta = PluginMeta(name="Outdated", version="9.0", compatibility="concord>=9")
