"""Errors that carry a message meant for the person using fiji_bridge."""


class FijiBridgeError(Exception):
    """Base class: the message is shown to the user as it is."""


class InputError(FijiBridgeError, ValueError):
    """An image, ROI, file or option that fiji_bridge cannot use."""


class RuntimeNotAvailable(FijiBridgeError, RuntimeError):
    """Java, ImageJ, Fiji or a display that fiji_bridge needs is missing."""
