"""Model parameters: PSA distributions and parametric time-to-event models."""
