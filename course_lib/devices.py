"""The devices present on this machine, for tests and examples that run everywhere."""

from __future__ import annotations

import torch


def available_devices() -> list[str]:
    """``["cpu"]``, plus ``"cuda"`` when a CUDA device is usable."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    return devices


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn ``None`` (meaning CPU) or a name into a ``torch.device``; unknown or absent devices
    raise ValueError naming the value."""
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"Invalid device: {device!r} ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"Invalid device: {device!r} (CUDA is not available on this machine)")
    return dev
