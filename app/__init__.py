"""마을길잡이 (maeul): guidebook-driven tracking for 마을관리 사회적협동조합."""
