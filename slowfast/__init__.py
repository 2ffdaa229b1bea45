"""EMIM: UniFormer video transformers with explicit motion information mining."""
