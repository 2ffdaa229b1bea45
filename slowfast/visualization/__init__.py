"""What the model computes, drawn and scored: EMIM's mined motion (`motion_field`, `capture`, `draw`)."""
