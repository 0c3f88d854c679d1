"""The deployment: the cook, protected platforms, the w.c.s. skeleton, `inv render`."""
