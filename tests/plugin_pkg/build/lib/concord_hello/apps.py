from portal.plugins import PluginMeta, PluginPermission, PortalPluginConfig


class HelloConfig(PortalPluginConfig):
    name = "concord_hello"
    label = "hello"
    meta = PluginMeta(
        name="Hello",
        version="0.1.0",
        compatibility="concord>=1.0,<2",
        description="Says hello to member staff.",
        permissions=(PluginPermission("say_hello", "Say hello", ("staff",)),),
    )
