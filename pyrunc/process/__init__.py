"""The parent's side of starting a container process (spawn, id maps, sync)."""
