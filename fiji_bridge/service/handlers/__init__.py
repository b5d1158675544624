"""Service command modules; each registers its commands with fiji_bridge.service.commands.command."""
