"""Pure cost-effectiveness analyses over simulated costs and QALYs."""
