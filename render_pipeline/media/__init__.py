"""FFmpeg access shared by every stage that reads or writes media."""
