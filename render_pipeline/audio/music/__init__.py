"""Music cues: where each cue's audio comes from, and the bed that places them on the film."""
